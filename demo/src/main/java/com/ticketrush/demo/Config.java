package com.ticketrush.demo;

import java.net.InetAddress;
import java.util.Map;

/**
 * Settings from environment variables; see README.md for the list and defaults.
 * Public final fields instead of a record: Debian's Gradle 4.4.1 warns about record class files.
 */
public final class Config {
    public final int port;
    public final String redisHost;
    public final int redisPort;
    public final String instanceId;
    public final long activeLimit;
    public final long capacity;
    public final long snapshotIntervalMs;
    /** Never logged. */
    public final String authToken;
    /** Added to every join (DEMO_EXTRA_LATENCY_MS): a simulated slower build. */
    public final long extraLatencyMs;

    private Config(Map<String, String> env) {
        port = (int) number(env, "PORT", 8080, 0, 65535);
        redisHost = text(env, "REDIS_HOST", "127.0.0.1");
        redisPort = (int) number(env, "REDIS_PORT", 6379, 1, 65535);
        String id = text(env, "INSTANCE_ID", null);
        instanceId = id != null ? id : defaultInstanceId(env);
        activeLimit = number(env, "QUEUE_ACTIVE_LIMIT", 100, 0, Long.MAX_VALUE);
        capacity = number(env, "QUEUE_CAPACITY", 1_000_000, 0, Long.MAX_VALUE);
        snapshotIntervalMs = number(env, "PUSH_SNAPSHOT_INTERVAL_MS", 5000, 0, Long.MAX_VALUE);
        authToken = text(env, "DEMO_AUTH_TOKEN", "demo-token");
        extraLatencyMs = number(env, "DEMO_EXTRA_LATENCY_MS", 0, 0, 60_000);
        if (capacity < activeLimit) {
            throw new IllegalArgumentException("QUEUE_CAPACITY (" + capacity
                    + ") must be >= QUEUE_ACTIVE_LIMIT (" + activeLimit + ")");
        }
    }

    /** @throws IllegalArgumentException naming the variable that is invalid */
    public static Config fromEnv(Map<String, String> env) {
        return new Config(env);
    }

    /** Docker sets HOSTNAME to the container id, which is what tells replicas apart. */
    private static String defaultInstanceId(Map<String, String> env) {
        String host = env.get("HOSTNAME");
        if (host != null && !host.isBlank()) {
            return host.trim();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static String text(Map<String, String> env, String name, String fallback) {
        String v = env.get(name);
        return v == null || v.isBlank() ? fallback : v.trim();
    }

    private static long number(Map<String, String> env, String name, long fallback, long min, long max) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        long n;
        try {
            n = Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + v + "'");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", got " + n);
        }
        return n;
    }
}
