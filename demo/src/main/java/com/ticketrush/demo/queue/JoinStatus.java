package com.ticketrush.demo.queue;

/** Outcome of joining a concert's waiting queue; the names are the API's wire values. */
public enum JoinStatus {
    /** Within the first K places: may enter now. */
    ACTIVE,
    /** Queued behind the active users. */
    WAITING,
    /** Queue is full. */
    REJECTED
}
