package com.ticketrush.demo.queue;

import java.util.Objects;

/**
 * A user's place in a queue (0-based rank) and what that place means.
 * A plain class rather than a record: Debian's Gradle 4.4.1 warns about record class files.
 */
public final class JoinResult {
    private final JoinStatus status;
    private final long rank;

    public JoinResult(JoinStatus status, long rank) {
        this.status = Objects.requireNonNull(status);
        this.rank = rank;
    }

    public JoinStatus status() {
        return status;
    }

    public long rank() {
        return rank;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JoinResult other && other.status == status && other.rank == rank;
    }

    @Override
    public int hashCode() {
        return Objects.hash(status, rank);
    }

    @Override
    public String toString() {
        return status + "@" + rank;
    }
}
