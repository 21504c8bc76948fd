package org.flexnbd.protocol.service;

import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;

/** Receives complete upstream replies: a structured reply arrives once, with all its chunks. */
@FunctionalInterface
public interface ReplyHandler {
    void reply(UpstreamSession from, Request request, Reply reply);
}
