package com.ticketrush.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.ticketrush.demo.http.JsonCodec;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.Before;
import org.junit.Test;

/** Joins through the live API (TCS_API_URL), backed by the real Redis. */
public class WaitingQueueIntegrationTest {
    private static final String JOIN = "/api/v1/waiting-queue/join";
    private static final Set<String> STATUSES = Set.of("WAITING", "ACTIVE", "REJECTED");
    private static final long CONCERT_ID = 1;

    @Before
    public void requireEnvironment() {
        IntegrationEnv.apiUrl();
    }

    /** Random ids far above the k6 ranges (9.0e8..) so repeated runs never collide. */
    private static long randomUserId() {
        return ThreadLocalRandom.current().nextLong(1_000_000_000_000L, 9_000_000_000_000_000L);
    }

    private static HttpResponse<String> post(String body) throws Exception {
        return IntegrationEnv.send(IntegrationEnv.request(JOIN)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private static Map<?, ?> join(long userId) throws Exception {
        HttpResponse<String> res = post("{\"userId\":" + userId + ",\"concertId\":" + CONCERT_ID + "}");
        assertEquals(res.body(), 200, res.statusCode());
        return (Map<?, ?>) JsonCodec.parse(res.body());
    }

    @Test
    public void joinReturnsValidStatusAndRank() throws Exception {
        Map<?, ?> body = join(randomUserId());
        assertTrue("unexpected status " + body, STATUSES.contains(body.get("status")));
        assertTrue("rank must be a non-negative integer: " + body,
                body.get("rank") instanceof Long && (Long) body.get("rank") >= 0);
    }

    @Test
    public void repeatedJoinKeepsRank() throws Exception {
        long user = randomUserId();
        Map<?, ?> first = join(user);
        Map<?, ?> second = join(user);
        assertEquals(first.get("rank"), second.get("rank"));
        assertEquals(first.get("status"), second.get("status"));
    }

    @Test
    public void laterUserGetsLaterRank() throws Exception {
        long a = (Long) join(randomUserId()).get("rank");
        long b = (Long) join(randomUserId()).get("rank");
        assertTrue("rank " + b + " should be after " + a, b > a);
    }

    @Test
    public void malformedBodyIs400() throws Exception {
        for (String bad : new String[] {"{not json", "{\"userId\":1}", "{\"userId\":\"x\",\"concertId\":1}", ""}) {
            HttpResponse<String> res = post(bad);
            assertEquals("body: " + bad, 400, res.statusCode());
            assertTrue(((Map<?, ?>) JsonCodec.parse(res.body())).get("error") instanceof String);
        }
    }

    @Test
    public void getOnJoinIs405() throws Exception {
        assertEquals(405, IntegrationEnv.send(IntegrationEnv.request(JOIN).GET()).statusCode());
    }
}
