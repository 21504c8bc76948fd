package org.flexnbd.protocol.service;

import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;

/**
 * Receives complete upstream replies: a structured reply arrives once, with all its chunks. Replies may be
 * buffered; {@link #flush()} comes whenever the upstream has nothing more to deliver at once.
 */
public interface ReplyHandler {
    void reply(UpstreamSession from, Request request, Reply reply);

    /** Send what was buffered: no further reply is at hand. */
    void flush();
}
