package com.ticketrush.demo.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.ticketrush.demo.monitor.Monitor;
import com.ticketrush.demo.queue.JoinResult;
import com.ticketrush.demo.queue.QueueStore;
import com.ticketrush.demo.queue.WaitingQueueService;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The HTTP API on the JDK's built-in server. Knows the queue domain and a readiness
 * check, but nothing about how either is stored.
 */
public final class ApiServer {
    static final String CONCERTS_PATH = "/api/concerts";
    static final String JOIN_PATH = "/api/v1/waiting-queue/join";
    private static final int MAX_BODY_BYTES = 64 * 1024;

    /** Static catalogue: the demo only needs something to list once the store is ready. */
    private static final List<Map<String, Object>> CONCERTS = List.of(
            concert(1, "Ticket Rush Opening Night", "2030-01-15T19:00:00Z"),
            concert(2, "Queue Theory Live", "2030-02-20T20:00:00Z"));

    private final HttpServer server;
    private final ExecutorService executor;
    private final String instanceId;
    private final byte[] expectedAuth;
    private final WaitingQueueService queue;
    private final BooleanSupplier ready;
    private final Monitor monitor;

    /**
     * @param ready   true when the backing store answers; GET /api/concerts is 503 otherwise,
     *                so a 2xx there means the whole service is usable
     * @param threads request threads (the JDK default is a single thread, too few for a load test)
     */
    public ApiServer(int port, int threads, String instanceId, String authToken,
                     WaitingQueueService queue, BooleanSupplier ready, Monitor monitor) throws IOException {
        this.instanceId = instanceId;
        this.expectedAuth = ("Bearer " + authToken).getBytes(StandardCharsets.UTF_8);
        this.queue = queue;
        this.ready = ready;
        this.monitor = monitor;
        // Without TCP_NODELAY small responses wait ~40 ms on Nagle + delayed ACK,
        // which would dominate the load test's p95. Read once, when the server classes load.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        this.server = HttpServer.create(new InetSocketAddress("0.0.0.0", port), 256);
        this.executor = Executors.newFixedThreadPool(threads);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
    }

    public void start() {
        server.start();
    }

    /** The bound port (useful when started with port 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    public void stop() {
        // 0: on JDK 17 any positive delay is always waited in full, even when idle (JDK-8304065).
        server.stop(0);
        executor.shutdown();
        try {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(HttpExchange ex) {
        try {
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getPath();

            // Only a header that is present and wrong is refused: the demo's endpoints are public.
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null && !MessageDigest.isEqual(expectedAuth, auth.getBytes(StandardCharsets.UTF_8))) {
                monitor.authFailure(method, path, auth.startsWith("Bearer ") ? "bad-bearer-token" : "not-bearer-scheme");
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
                sendError(ex, 401, "unauthorized");
                return;
            }

            switch (path) {
                case CONCERTS_PATH -> {
                    if (allow(ex, "GET")) {
                        concerts(ex);
                    }
                }
                case JOIN_PATH -> {
                    if (allow(ex, "POST")) {
                        join(ex);
                    }
                }
                default -> sendError(ex, 404, "not found: " + path);
            }
        } catch (IOException e) {
            // the client went away mid-exchange; nothing left to answer
        } catch (RuntimeException e) {
            monitor.error("unhandled error instance=" + instanceId + " error=" + e);
            try {
                sendError(ex, 500, "internal error");
            } catch (IOException | RuntimeException ignored) {
                // headers may already be sent
            }
        } finally {
            ex.close(); // not try-with-resources: the 500 above must be sent before closing
        }
    }

    private boolean allow(HttpExchange ex, String method) throws IOException {
        if (method.equals(ex.getRequestMethod())) {
            return true;
        }
        ex.getResponseHeaders().set("Allow", method);
        sendError(ex, 405, "method not allowed: " + ex.getRequestMethod());
        return false;
    }

    private void concerts(HttpExchange ex) throws IOException {
        if (!ready.getAsBoolean()) {
            sendError(ex, 503, "redis unavailable");
            return;
        }
        send(ex, 200, JsonCodec.write(CONCERTS));
    }

    private void join(HttpExchange ex) throws IOException {
        JoinRequest req;
        try {
            req = JoinRequest.parse(readBody(ex));
        } catch (IllegalArgumentException e) {
            sendError(ex, 400, e.getMessage());
            return;
        }
        JoinResult result;
        try {
            result = queue.join(req.concertId(), req.userId());
        } catch (QueueStore.StoreUnavailableException e) {
            monitor.error("QUEUE_JOIN_FAILED concertId=" + req.concertId() + " userId=" + req.userId()
                    + " instance=" + instanceId + " error=" + e.getMessage());
            sendError(ex, 503, "queue store unavailable");
            return;
        }
        monitor.queueJoin(req.concertId(), req.userId(), result.status().name(), result.rank());
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", result.status().name());
        body.put("rank", result.rank());
        send(ex, 200, JsonCodec.write(body));
    }

    /** Reads at most MAX_BODY_BYTES; a larger body is a client error, not a memory risk. */
    private static String readBody(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            int n;
            while ((n = in.read(chunk)) > 0) {
                buf.write(chunk, 0, n);
                if (buf.size() > MAX_BODY_BYTES) {
                    throw new IllegalArgumentException("request body larger than " + MAX_BODY_BYTES + " bytes");
                }
            }
            return buf.toString(StandardCharsets.UTF_8);
        }
    }

    private static void sendError(HttpExchange ex, int status, String message) throws IOException {
        send(ex, status, JsonCodec.write(Map.of("error", message)));
    }

    private static void send(HttpExchange ex, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static Map<String, Object> concert(long id, String title, String startsAt) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("title", title);
        m.put("startsAt", startsAt);
        return m;
    }
}
