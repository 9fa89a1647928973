package com.ticketrush.demo.http;

import java.util.Map;
import java.util.Objects;

/**
 * The body of POST /api/v1/waiting-queue/join: {"userId":n,"concertId":n}, both positive integers.
 * A plain class rather than a record: Debian's Gradle 4.4.1 warns about record class files.
 */
public final class JoinRequest {
    private final long userId;
    private final long concertId;

    public JoinRequest(long userId, long concertId) {
        this.userId = userId;
        this.concertId = concertId;
    }

    public long userId() {
        return userId;
    }

    public long concertId() {
        return concertId;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JoinRequest other && other.userId == userId && other.concertId == concertId;
    }

    @Override
    public int hashCode() {
        return Objects.hash(userId, concertId);
    }

    @Override
    public String toString() {
        return "JoinRequest{userId=" + userId + ", concertId=" + concertId + "}";
    }

    /** @throws IllegalArgumentException with a client-facing message when the body is not valid */
    public static JoinRequest parse(String body) {
        if (body == null || body.isBlank()) {
            throw new IllegalArgumentException("request body is empty");
        }
        Object parsed;
        try {
            parsed = JsonCodec.parse(body);
        } catch (JsonCodec.JsonException e) {
            throw new IllegalArgumentException("malformed JSON: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("request body must be a JSON object");
        }
        return new JoinRequest(positiveLong(map, "userId"), positiveLong(map, "concertId"));
    }

    private static long positiveLong(Map<?, ?> map, String field) {
        Object v = map.get(field);
        if (v == null) {
            throw new IllegalArgumentException("missing field: " + field);
        }
        if (!(v instanceof Long n)) {
            throw new IllegalArgumentException(field + " must be an integer");
        }
        if (n <= 0) {
            throw new IllegalArgumentException(field + " must be positive");
        }
        return n;
    }
}
