package relaybox.relay.local;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocalNamesTest {

    private final LocalNames names = new LocalNames("host.example", Map.of(
            "root", List.of("ops@corp.example", "pager@corp.example"),
            "postmaster", List.of("root"),
            "loop1", List.of("loop2"),
            "loop2", List.of("loop1"),
            "*", List.of("root")));

    @Test
    void bareNamesAreQualifiedAndOthersKept() {
        LocalNames plain = new LocalNames("host.example", Map.of());
        assertEquals("root@host.example", plain.qualify("root"));
        assertEquals("a@x.example", plain.qualify("a@x.example"));
        assertEquals("\"a@b\"@host.example", plain.qualify("\"a@b\""));
        assertEquals("", plain.qualify(""));
        assertEquals(List.of("www-data@host.example"), plain.expand("www-data"));
        assertEquals(List.of("root"), LocalNames.NONE.expand("root"));
    }

    @Test
    void aliasesAreFollowedAndTheCatchAllTakesOtherLocalNames() {
        assertEquals(List.of("ops@corp.example", "pager@corp.example"), names.expand("root"));
        assertEquals(List.of("ops@corp.example", "pager@corp.example"), names.expand("ROOT@Host.Example"));
        assertEquals(List.of("ops@corp.example", "pager@corp.example"), names.expand("postmaster@localhost"));
        assertEquals(List.of("ops@corp.example", "pager@corp.example"), names.expand("www-data"));
        assertEquals(List.of("someone@else.example"), names.expand("someone@else.example"));
    }

    @Test
    void aLoopEndsInAnAddress() {
        assertEquals(List.of("loop1@host.example"), names.expand("loop1"));
    }

    @Test
    void localMeansLocalDomainOrLocalhost() {
        assertTrue(names.isLocal("a@localhost"));
        assertTrue(names.isLocal("a@HOST.example"));
        assertFalse(names.isLocal("a@sub.host.example"));
        assertTrue(LocalNames.isBare("root"));
        assertFalse(LocalNames.isBare("root@x"));
        assertFalse(LocalNames.isBare(""));
    }
}
