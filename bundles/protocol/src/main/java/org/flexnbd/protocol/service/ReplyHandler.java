package org.flexnbd.protocol.service;

import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;

/** Receives complete upstream replies: a structured reply arrives once, with all its chunks. */
@FunctionalInterface
public interface ReplyHandler {
    /**
     * One complete reply. {@code more} says that further reply bytes have already arrived and another reply follows
     * at once, so that the client's socket need not be flushed after each of a burst.
     */
    void reply(UpstreamSession from, Request request, Reply reply, boolean more);
}
