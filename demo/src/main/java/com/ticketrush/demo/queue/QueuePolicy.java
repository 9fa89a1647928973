package com.ticketrush.demo.queue;

/**
 * Turns a 0-based queue rank into a status: rank &lt; activeLimit is ACTIVE,
 * rank &lt; capacity is WAITING, anything further back is REJECTED.
 * Pure and side-effect free so it can be unit tested without Redis.
 */
public final class QueuePolicy {
    private final long activeLimit;
    private final long capacity;

    public QueuePolicy(long activeLimit, long capacity) {
        if (activeLimit < 0) {
            throw new IllegalArgumentException("activeLimit must be >= 0, got " + activeLimit);
        }
        if (capacity < activeLimit) {
            throw new IllegalArgumentException(
                    "capacity (" + capacity + ") must be >= activeLimit (" + activeLimit + ")");
        }
        this.activeLimit = activeLimit;
        this.capacity = capacity;
    }

    public JoinStatus decide(long rank) {
        if (rank < 0) {
            throw new IllegalArgumentException("rank must be >= 0, got " + rank);
        }
        if (rank < activeLimit) {
            return JoinStatus.ACTIVE;
        }
        return rank < capacity ? JoinStatus.WAITING : JoinStatus.REJECTED;
    }

    public long activeLimit() {
        return activeLimit;
    }

    public long capacity() {
        return capacity;
    }
}
