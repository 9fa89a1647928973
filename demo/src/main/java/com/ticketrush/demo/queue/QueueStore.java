package com.ticketrush.demo.queue;

/**
 * Where queue positions are kept. Defined here (not in the storage package) so the
 * domain depends on no infrastructure; the Redis implementation plugs in from outside.
 */
public interface QueueStore {

    /**
     * Adds the user to the concert's queue unless already there (idempotent) and
     * returns the user's 0-based rank.
     *
     * @throws StoreUnavailableException when the store cannot be reached
     */
    long join(long concertId, long userId);

    /** The backing store failed or is unreachable; the HTTP layer maps this to 503. */
    final class StoreUnavailableException extends RuntimeException {
        public StoreUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
