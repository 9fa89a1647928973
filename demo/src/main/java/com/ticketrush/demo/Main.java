package com.ticketrush.demo;

import com.ticketrush.demo.http.ApiServer;
import com.ticketrush.demo.monitor.Monitor;
import com.ticketrush.demo.queue.QueuePolicy;
import com.ticketrush.demo.queue.QueueStore;
import com.ticketrush.demo.queue.SlowQueueStore;
import com.ticketrush.demo.queue.WaitingQueueService;
import com.ticketrush.demo.redis.RedisClient;
import com.ticketrush.demo.redis.RedisQueueStore;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** Wires the layers together; the only class that knows every package. */
public final class Main {
    /** Enough for the 60-VU load test without one thread per connection. */
    private static final int HTTP_THREADS = 32;

    private Main() {
    }

    public static void main(String[] args) {
        Config cfg;
        try {
            cfg = Config.fromEnv(System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("demo: bad configuration: " + e.getMessage());
            System.exit(2);
            return;
        }
        Monitor monitor = new Monitor(cfg.instanceId);
        RedisClient redis = new RedisClient(cfg.redisHost, cfg.redisPort, HTTP_THREADS);
        QueuePolicy policy = new QueuePolicy(cfg.activeLimit, cfg.capacity); // limits checked by Config
        QueueStore store = new RedisQueueStore(redis);
        if (cfg.extraLatencyMs > 0) {
            store = new SlowQueueStore(store, cfg.extraLatencyMs);
        }
        WaitingQueueService queue = new WaitingQueueService(store, policy);

        ApiServer server;
        try {
            server = new ApiServer(cfg.port, HTTP_THREADS, cfg.instanceId, cfg.authToken,
                    queue, redis::ping, monitor);
        } catch (Exception e) {
            System.err.println("demo: cannot listen on port " + cfg.port + ": " + e);
            System.exit(1);
            return;
        }
        server.start();

        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "push-snapshot");
            t.setDaemon(true);
            return t;
        });
        if (cfg.snapshotIntervalMs > 0) {
            scheduler.scheduleAtFixedRate(monitor::snapshot, cfg.snapshotIntervalMs,
                    cfg.snapshotIntervalMs, TimeUnit.MILLISECONDS);
        }

        // Redis may still be starting (compose); the service starts anyway and reports 503 until ready.
        monitor.info("demo started port=" + server.port() + " instance=" + cfg.instanceId
                + " redis=" + cfg.redisHost + ":" + cfg.redisPort + " redisReady=" + redis.ping()
                + " activeLimit=" + cfg.activeLimit + " capacity=" + cfg.capacity
                + " snapshotIntervalMs=" + cfg.snapshotIntervalMs);

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            scheduler.shutdownNow();
            server.stop();
            redis.close();
            monitor.info("demo stopped instance=" + cfg.instanceId);
        }, "shutdown"));
    }
}
