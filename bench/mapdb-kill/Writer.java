/** bench/mapdb-kill: the child that writes until it is killed (see run.sh). */
import org.mapdb.*;
import java.io.File;
import java.util.*;

/** Child: puts/removes keys whose value embeds the key, commits in batches, forever (until killed). */
public class Writer {
    public static void main(String[] a) throws Exception {
        boolean mmap = a[1].equals("mmap");
        DBMaker.Maker m = DBMaker.fileDB(new File(a[0])).transactionEnable();
        if (mmap) m = m.fileMmapEnableIfSupported();
        DB db = m.make();
        BTreeMap<String, byte[]> map = db.treeMap("entries", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable().createOrOpen();
        Random r = new Random();
        long n = Long.parseLong(a[2]);
        List<String> live = new ArrayList<>(map.keySet());
        System.out.println("ready " + live.size());
        System.out.flush();
        while (true) {
            int ops = 1 + r.nextInt(300);
            for (int i = 0; i < ops; i++) {
                if (!live.isEmpty() && r.nextInt(100) < 48) {
                    String k = live.remove(r.nextInt(live.size()));
                    map.remove(k);
                } else if (!live.isEmpty() && r.nextInt(100) < 20) {
                    String k = live.get(r.nextInt(live.size()));
                    map.put(k, value(k, r));
                } else {
                    String k = String.format("%012d", n++);
                    map.put(k, value(k, r));
                    live.add(k);
                }
            }
            db.commit();
        }
    }
    static byte[] value(String k, Random r) {
        byte[] pad = new byte[150 + r.nextInt(300)];
        byte[] kb = k.getBytes();
        System.arraycopy(kb, 0, pad, 0, kb.length);
        return pad;
    }
}
