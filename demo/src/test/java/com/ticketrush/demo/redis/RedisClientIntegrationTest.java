package com.ticketrush.demo.redis;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import com.ticketrush.demo.IntegrationEnv;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The RESP client against the environment's Redis (TCS_REDIS_HOST, TCS_REDIS_PORT default 6379). */
public class RedisClientIntegrationTest {
    private RedisClient redis;
    private final String prefix = "demo-it:" + UUID.randomUUID() + ":";

    @Before
    public void connect() {
        String host = IntegrationEnv.require("TCS_REDIS_HOST");
        String port = System.getenv("TCS_REDIS_PORT");
        redis = new RedisClient(host, port == null || port.isBlank() ? 6379 : Integer.parseInt(port.trim()));
    }

    @After
    public void cleanUp() {
        if (redis != null) {
            try {
                for (String suffix : new String[] {"s", "n", "c"}) {
                    redis.call("DEL", prefix + suffix);
                }
            } finally {
                redis.close();
            }
        }
    }

    @Test
    public void pingAnswersPong() {
        assertEquals("PONG", redis.call("PING"));
        assertTrue(redis.ping());
    }

    @Test
    public void setThenGetRoundTripsUtf8() {
        String value = "caf\u00e9 \u20ac \r\n with spaces";
        assertEquals("OK", redis.call("SET", prefix + "s", value, "EX", "60"));
        assertEquals(value, redis.call("GET", prefix + "s"));
    }

    @Test
    public void missingKeyIsNull() {
        assertNull(redis.call("GET", prefix + "missing"));
    }

    @Test
    public void integerAndArrayReplies() {
        assertEquals(1L, redis.call("INCR", prefix + "n"));
        assertEquals(List.of(), redis.call("LRANGE", prefix + "missing-list", "0", "-1"));
    }

    @Test
    public void errorReplyIsAnExceptionAndConnectionSurvives() {
        redis.call("SET", prefix + "s", "text", "EX", "60");
        RedisException e = assertThrows(RedisException.class, () -> redis.call("INCR", prefix + "s"));
        assertTrue(e.isErrorReply());
        assertEquals("PONG", redis.call("PING"));
    }

    @Test
    public void safeForConcurrentCallers() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < 400; i++) {
                futures.add(pool.submit(() -> redis.call("INCR", prefix + "c")));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
        assertEquals("400", redis.call("GET", prefix + "c"));
    }

    @Test
    public void unreachableServerFailsFast() {
        RedisClient dead = new RedisClient("127.0.0.1", 1);
        RedisException e = assertThrows(RedisException.class, () -> dead.call("PING"));
        assertTrue(!e.isErrorReply());
        assertTrue(!dead.ping());
    }
}
