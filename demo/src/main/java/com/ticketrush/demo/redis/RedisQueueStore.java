package com.ticketrush.demo.redis;

import com.ticketrush.demo.queue.QueueStore;

import java.util.List;

/**
 * Queue positions in Redis: one sorted set per concert, scored by a per-concert sequence.
 * The Lua script makes "add if absent, then rank" atomic, so concurrent joins can never
 * see a rank that later shifts, and repeated joins of a user return the same rank.
 * Keys use a hash tag ({concertId}) so both keys of a concert share a cluster slot.
 */
public final class RedisQueueStore implements QueueStore {
    static final String JOIN_SCRIPT = String.join("\n",
            "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then",
            "  local seq = redis.call('INCR', KEYS[2])",
            "  redis.call('ZADD', KEYS[1], 'NX', seq, ARGV[1])",
            "end",
            "return redis.call('ZRANK', KEYS[1], ARGV[1])");

    private final RedisClient redis;

    public RedisQueueStore(RedisClient redis) {
        this.redis = redis;
    }

    static String queueKey(long concertId) {
        return "queue:{" + concertId + "}";
    }

    static String seqKey(long concertId) {
        return "seq:{" + concertId + "}";
    }

    @Override
    public long join(long concertId, long userId) {
        Object reply;
        try {
            reply = redis.call("EVAL", JOIN_SCRIPT, "2",
                    queueKey(concertId), seqKey(concertId), Long.toString(userId));
        } catch (RedisException e) {
            throw new StoreUnavailableException(e.getMessage(), e);
        }
        if (reply instanceof Long rank) {
            return rank;
        }
        throw new StoreUnavailableException("unexpected reply to queue join: " + describe(reply), null);
    }

    private static String describe(Object reply) {
        return reply instanceof List<?> ? "array" : String.valueOf(reply);
    }
}
