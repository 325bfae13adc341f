package relaybox.relay.intake;

import relaybox.queue.Queue;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailEvents;
import relaybox.relay.metrics.RelayMetrics;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every intake session shares: the settings, the queue it hands messages to, the DKIM
 * signer, the relay policy and the mail log, plus the count of open transactions that a stopping
 * daemon waits for. Built once by {@link IntakeServer}.
 */
final class Intake {
    final IntakeConfig config;
    final Queue queue;
    final MessageSigner signer;
    final MailEvents mailLog;
    final RelayPolicy policy;
    final Clock clock;
    /** Intake latency and DKIM failures are counted here; null when nobody collects metrics. */
    final RelayMetrics metrics;
    /** Transactions between MAIL and their end; a stopping daemon lets them finish. */
    final AtomicInteger openTransactions = new AtomicInteger();
    /** Bare names are qualified and aliased with this (relaybox as the host's MTA). Set before start. */
    volatile relaybox.relay.local.LocalNames localNames = relaybox.relay.local.LocalNames.NONE;
    /** What a bare LF in a trusted client's message gets. Set before start. */
    volatile relaybox.relay.config.LocalMailConfig.BareNewline bareNewline =
            relaybox.relay.config.LocalMailConfig.BareNewline.REJECT;
    /** The upstreams' size limits and From rewrites ({@link UpstreamFacts}). Set before start. */
    volatile UpstreamFacts upstreams = UpstreamFacts.NONE;

    /** The SIZE EHLO advertises: ours, or the largest any upstream takes when that is less. */
    long advertisedSize() {
        return Math.min(config.maxMessageSize(), upstreams.largestMessage());
    }

    /** Heap for header sections held by all sessions together ({@code intake_header_memory}). */
    final HeaderMemory headerMemory;
    /** Set when the daemon stops: new transactions get 421. */
    volatile boolean draining;

    Intake(IntakeConfig config, Queue queue, MessageSigner signer, MailEvents mailLog, RelayPolicy policy, Clock clock,
           RelayMetrics metrics) {
        this.metrics = metrics;
        this.config = config;
        this.queue = queue;
        this.signer = signer;
        this.mailLog = mailLog;
        this.policy = policy;
        this.clock = clock;
        this.headerMemory = new HeaderMemory(config.limits().headerMemory());
    }
}
