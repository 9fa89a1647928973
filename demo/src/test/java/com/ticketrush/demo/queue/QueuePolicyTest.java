package com.ticketrush.demo.queue;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.fail;

import java.util.HashMap;
import java.util.Map;
import org.junit.Test;

public class QueuePolicyTest {
    private final QueuePolicy policy = new QueuePolicy(2, 5);

    @Test
    public void firstUsersAreActive() {
        // Deliberate-failure switch, so tooling can prove it reports a failing test.
        if ("1".equals(System.getenv("DEMO_FAIL_TEST"))) {
            fail("DEMO_FAIL_TEST=1: deliberate failure");
        }
        // Deliberately flaky: fails once (leaving the marker file), passes on the rerun.
        String once = System.getenv("DEMO_FLAKY_ONCE");
        if (once != null && !once.isEmpty() && new java.io.File(once).mkdir()) {
            fail("DEMO_FLAKY_ONCE: deliberate failure, this time only");
        }
        assertEquals(JoinStatus.ACTIVE, policy.decide(0));
        assertEquals(JoinStatus.ACTIVE, policy.decide(1));
    }

    @Test
    public void usersAfterActiveLimitWait() {
        assertEquals(JoinStatus.WAITING, policy.decide(2));
        assertEquals(JoinStatus.WAITING, policy.decide(4));
    }

    @Test
    public void usersBeyondCapacityAreRejected() {
        assertEquals(JoinStatus.REJECTED, policy.decide(5));
        assertEquals(JoinStatus.REJECTED, policy.decide(Long.MAX_VALUE));
    }

    @Test
    public void zeroActiveLimitMeansNobodyIsActive() {
        assertEquals(JoinStatus.WAITING, new QueuePolicy(0, 1).decide(0));
        assertEquals(JoinStatus.REJECTED, new QueuePolicy(0, 0).decide(0));
    }

    @Test
    public void capacityEqualToActiveLimitLeavesNoWaitingRoom() {
        QueuePolicy p = new QueuePolicy(3, 3);
        assertEquals(JoinStatus.ACTIVE, p.decide(2));
        assertEquals(JoinStatus.REJECTED, p.decide(3));
    }

    @Test
    public void negativeRankIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> policy.decide(-1));
    }

    @Test
    public void inconsistentLimitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new QueuePolicy(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> new QueuePolicy(10, 9));
    }

    @Test
    public void serviceKeepsRankOfRepeatedJoin() {
        WaitingQueueService service = new WaitingQueueService(new InMemoryStore(), policy);
        assertEquals(new JoinResult(JoinStatus.ACTIVE, 0), service.join(1, 100));
        assertEquals(new JoinResult(JoinStatus.ACTIVE, 1), service.join(1, 200));
        assertEquals(new JoinResult(JoinStatus.WAITING, 2), service.join(1, 300));
        assertEquals(new JoinResult(JoinStatus.ACTIVE, 0), service.join(1, 100));
        // queues are per concert
        assertEquals(new JoinResult(JoinStatus.ACTIVE, 0), service.join(2, 300));
    }

    /** Same contract as the Redis store: first join fixes the rank. */
    private static final class InMemoryStore implements QueueStore {
        private final Map<Long, Map<Long, Long>> queues = new HashMap<>();

        @Override
        public long join(long concertId, long userId) {
            Map<Long, Long> q = queues.computeIfAbsent(concertId, k -> new HashMap<>());
            return q.computeIfAbsent(userId, k -> (long) q.size());
        }
    }
}
