package com.ticketrush.demo;

import static org.junit.Assert.fail;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Where the integration tests find the live environment. A missing variable is a test
 * FAILURE, not a skip: a green run must mean the service was really exercised.
 */
public final class IntegrationEnv {
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(3))
            .build();

    private IntegrationEnv() {
    }

    /** The value of a required variable, or a test failure that says how to provide it. */
    public static String require(String name) {
        String v = System.getenv(name);
        if (v == null || v.isBlank()) {
            fail(name + " is not set: start an environment first (cargo xtask env up) "
                    + "or run cargo xtask integration");
        }
        return v.trim();
    }

    /** TCS_API_URL without a trailing slash, e.g. http://127.0.0.1:18080. */
    public static String apiUrl() {
        String url = require("TCS_API_URL");
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    public static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return HTTP.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    public static HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(apiUrl() + path));
    }
}
