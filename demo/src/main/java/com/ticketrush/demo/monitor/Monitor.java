package com.ticketrush.demo.monitor;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One-line, flushed stdout events that the ops tooling counts by substring:
 * QUEUE_MONITOR (every join), PUSH_MONITOR (a join that became ACTIVE),
 * PUSH_MONITOR_SNAPSHOT (periodic counters) and AUTH_MONITOR (rejected credentials).
 * Values are plain key=value pairs; secrets are never passed in here.
 */
public final class Monitor {
    private final String instanceId;
    private final PrintStream out;
    private final AtomicLong joins = new AtomicLong();
    private final AtomicLong active = new AtomicLong();
    private final AtomicLong waiting = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong authFailures = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();

    public Monitor(String instanceId) {
        // autoflush on println: each event is visible in `docker logs` at once
        this(instanceId, new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
    }

    public Monitor(String instanceId, PrintStream out) {
        this.instanceId = instanceId;
        this.out = out;
    }

    /** A plain log line, e.g. startup. */
    public void info(String message) {
        log("INFO", message);
    }

    public void error(String message) {
        errors.incrementAndGet();
        log("ERROR", message);
    }

    public void queueJoin(long concertId, long userId, String status, long rank) {
        joins.incrementAndGet();
        switch (status) {
            case "ACTIVE" -> active.incrementAndGet();
            case "WAITING" -> waiting.incrementAndGet();
            default -> rejected.incrementAndGet();
        }
        log("INFO", "QUEUE_MONITOR join concertId=" + concertId + " userId=" + userId
                + " status=" + status + " rank=" + rank + " instance=" + instanceId);
        if ("ACTIVE".equals(status)) {
            log("INFO", "PUSH_MONITOR push-active concertId=" + concertId + " userId=" + userId
                    + " rank=" + rank + " instance=" + instanceId);
        }
    }

    /** @param reason a fixed description of what was wrong, never the header value */
    public void authFailure(String method, String path, String reason) {
        authFailures.incrementAndGet();
        log("WARN", "AUTH_MONITOR rejected method=" + method + " path=" + sanitize(path)
                + " reason=" + reason + " instance=" + instanceId);
    }

    /** Counters since start; run periodically by the scheduler in Main. */
    public void snapshot() {
        log("INFO", "PUSH_MONITOR_SNAPSHOT pushes=" + active.get() + " joins=" + joins.get()
                + " active=" + active.get() + " waiting=" + waiting.get() + " rejected=" + rejected.get()
                + " authFailures=" + authFailures.get() + " errors=" + errors.get() + " instance=" + instanceId);
    }

    private void log(String level, String message) {
        out.println(Instant.now() + " " + level + " " + message);
    }

    /** Keeps a client-supplied value on one line and short. */
    private static String sanitize(String s) {
        String oneLine = s.replaceAll("[\\r\\n\\t ]", "_");
        return oneLine.length() > 200 ? oneLine.substring(0, 200) + "..." : oneLine;
    }
}
