package com.ticketrush.demo.redis;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Minimal RESP2 client: one request/response per call over a pooled socket.
 *
 * <p>Thread-safe: a caller takes a connection out of the idle pool for the whole
 * round trip, so no two threads ever share a socket. Connections are opened on demand
 * (at most one per concurrent caller) and at most {@code maxIdle} are kept.
 *
 * <p>Replies map to Java as: simple/bulk string -> String, integer -> Long,
 * array -> List&lt;Object&gt;, nil -> null, error -> {@link RedisException}.
 */
public final class RedisClient implements AutoCloseable {
    private static final int CONNECT_TIMEOUT_MS = 2000;
    private static final int READ_TIMEOUT_MS = 3000;

    private final String host;
    private final int port;
    private final int maxIdle;
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();

    public RedisClient(String host, int port) {
        this(host, port, 32);
    }

    public RedisClient(String host, int port, int maxIdle) {
        this.host = host;
        this.port = port;
        this.maxIdle = maxIdle;
    }

    /** Sends one command and returns its decoded reply. */
    public Object call(String... args) {
        if (args.length == 0) {
            throw new IllegalArgumentException("empty redis command");
        }
        Connection conn = null;
        try {
            conn = borrow();
            conn.write(args);
            Object reply = conn.read();
            release(conn);
            if (reply instanceof ErrorReply err) {
                throw new RedisException(err.message, true);
            }
            return reply;
        } catch (IOException e) {
            if (conn != null) {
                conn.close();
            }
            // One broken socket usually means the server went away or restarted:
            // drop the idle ones too so the next calls reconnect instead of failing again.
            clearIdle();
            throw new RedisException("redis " + host + ":" + port + " unavailable: " + e.getMessage(), e);
        }
    }

    /** True when the server answers PING with PONG; never throws. */
    public boolean ping() {
        try {
            return "PONG".equals(call("PING"));
        } catch (RedisException e) {
            return false;
        }
    }

    @Override
    public void close() {
        clearIdle();
    }

    private Connection borrow() throws IOException {
        Connection conn = idle.pollFirst();
        return conn != null ? conn : new Connection(host, port);
    }

    private void release(Connection conn) {
        if (idle.size() < maxIdle) {
            idle.offerFirst(conn);
        } else {
            conn.close();
        }
    }

    private void clearIdle() {
        Connection conn;
        while ((conn = idle.pollFirst()) != null) {
            conn.close();
        }
    }

    /** An error reply, kept apart from data so the connection can be reused. */
    private static final class ErrorReply {
        final String message;

        ErrorReply(String message) {
            this.message = message;
        }
    }

    private static final class Connection {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Connection(String host, int port) throws IOException {
            socket = new Socket();
            try {
                socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
                socket.setSoTimeout(READ_TIMEOUT_MS);
                socket.setTcpNoDelay(true);
                in = new BufferedInputStream(socket.getInputStream());
                out = new BufferedOutputStream(socket.getOutputStream());
            } catch (IOException e) {
                close();
                throw e;
            }
        }

        void write(String[] args) throws IOException {
            writeHeader('*', args.length);
            for (String arg : args) {
                byte[] bytes = arg.getBytes(StandardCharsets.UTF_8);
                writeHeader('$', bytes.length);
                out.write(bytes);
                out.write('\r');
                out.write('\n');
            }
            out.flush();
        }

        private void writeHeader(char type, int n) throws IOException {
            out.write(type);
            out.write(Integer.toString(n).getBytes(StandardCharsets.US_ASCII));
            out.write('\r');
            out.write('\n');
        }

        Object read() throws IOException {
            int type = in.read();
            if (type < 0) {
                throw new EOFException("connection closed by server");
            }
            String line = readLine();
            switch (type) {
                case '+':
                    return line;
                case '-':
                    return new ErrorReply(line);
                case ':':
                    return parseLong(line);
                case '$': {
                    int len = (int) parseLong(line);
                    if (len < 0) {
                        return null;
                    }
                    byte[] data = in.readNBytes(len);
                    if (data.length < len || in.read() != '\r' || in.read() != '\n') {
                        throw new IOException("truncated bulk string");
                    }
                    return new String(data, StandardCharsets.UTF_8);
                }
                case '*': {
                    int n = (int) parseLong(line);
                    if (n < 0) {
                        return null;
                    }
                    List<Object> items = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        items.add(read());
                    }
                    return items;
                }
                default:
                    throw new IOException("unexpected RESP type byte: " + type);
            }
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream buf = new ByteArrayOutputStream(32);
            int b;
            while ((b = in.read()) != '\r') {
                if (b < 0) {
                    throw new EOFException("connection closed mid-reply");
                }
                buf.write(b);
            }
            if (in.read() != '\n') {
                throw new IOException("malformed RESP line");
            }
            return buf.toString(StandardCharsets.UTF_8);
        }

        private static long parseLong(String s) throws IOException {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                throw new IOException("bad RESP integer: " + s);
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing useful to do; the socket is gone either way
            }
        }
    }
}
