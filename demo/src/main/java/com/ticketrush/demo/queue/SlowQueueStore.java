package com.ticketrush.demo.queue;

/**
 * A store that takes a fixed extra time per join: the demo's latency knob
 * (DEMO_EXTRA_LATENCY_MS), so that a slower build can be simulated and the
 * xtask's regression check seen to catch it. The real service has no such
 * knob and the xtask never sets it.
 */
public final class SlowQueueStore implements QueueStore {
    private final QueueStore inner;
    private final long extraMs;

    public SlowQueueStore(QueueStore inner, long extraMs) {
        this.inner = inner;
        this.extraMs = extraMs;
    }

    @Override
    public long join(long concertId, long userId) {
        try {
            Thread.sleep(extraMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return inner.join(concertId, userId);
    }
}
