package com.ticketrush.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import com.ticketrush.demo.http.JsonCodec;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.Before;
import org.junit.Test;

/** Concert listing and the generic HTTP behaviour of the live service (TCS_API_URL). */
public class ConcertApiIntegrationTest {

    @Before
    public void requireEnvironment() {
        IntegrationEnv.apiUrl();
    }

    @Test
    public void listsConcertsWhenReady() throws Exception {
        HttpResponse<String> res = IntegrationEnv.send(IntegrationEnv.request("/api/concerts").GET());
        assertEquals(res.body(), 200, res.statusCode());
        assertTrue(res.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        List<?> concerts = (List<?>) JsonCodec.parse(res.body());
        assertFalse("concert list is empty", concerts.isEmpty());
        Map<?, ?> first = (Map<?, ?>) concerts.get(0);
        assertTrue(first.get("id") instanceof Long);
        assertTrue(first.get("title") instanceof String);
    }

    @Test
    public void noResponseNamesTheReplica() throws Exception {
        // As the real service: which replica answered is measured from outside.
        for (HttpRequest.Builder req : List.of(
                IntegrationEnv.request("/api/concerts").GET(),
                IntegrationEnv.request("/no/such/path").GET())) {
            HttpResponse<String> res = IntegrationEnv.send(req);
            assertFalse("X-Instance on " + res.uri(),
                    res.headers().firstValue("X-Instance").isPresent());
        }
    }

    @Test
    public void unknownPathIsJson404() throws Exception {
        HttpResponse<String> res = IntegrationEnv.send(IntegrationEnv.request("/api/no-such-endpoint").GET());
        assertEquals(404, res.statusCode());
        assertTrue(((Map<?, ?>) JsonCodec.parse(res.body())).get("error") instanceof String);
    }

    @Test
    public void wrongMethodIs405() throws Exception {
        HttpResponse<String> res = IntegrationEnv.send(IntegrationEnv.request("/api/concerts")
                .POST(HttpRequest.BodyPublishers.ofString("{}")));
        assertEquals(405, res.statusCode());
        assertEquals("GET", res.headers().firstValue("Allow").orElse(""));
    }

    @Test
    public void wrongBearerTokenIs401() throws Exception {
        HttpResponse<String> res = IntegrationEnv.send(IntegrationEnv.request("/api/concerts")
                .header("Authorization", "Bearer definitely-not-the-token").GET());
        assertEquals(401, res.statusCode());
        assertTrue(((Map<?, ?>) JsonCodec.parse(res.body())).get("error") instanceof String);
    }
}
