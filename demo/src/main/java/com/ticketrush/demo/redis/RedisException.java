package com.ticketrush.demo.redis;

/** Redis could not be reached, broke the protocol, or answered with an error reply. */
public class RedisException extends RuntimeException {
    private final boolean errorReply;

    public RedisException(String message, Throwable cause) {
        super(message, cause);
        this.errorReply = false;
    }

    RedisException(String message, boolean errorReply) {
        super(message);
        this.errorReply = errorReply;
    }

    /** True when Redis itself answered "-ERR ..." (the connection is fine). */
    public boolean isErrorReply() {
        return errorReply;
    }
}
