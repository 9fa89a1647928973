package com.ticketrush.demo.queue;

/** Joins a user to a concert's queue and applies the admission policy to the rank. */
public final class WaitingQueueService {
    private final QueueStore store;
    private final QueuePolicy policy;

    public WaitingQueueService(QueueStore store, QueuePolicy policy) {
        this.store = store;
        this.policy = policy;
    }

    public JoinResult join(long concertId, long userId) {
        long rank = store.join(concertId, userId);
        return new JoinResult(policy.decide(rank), rank);
    }
}
