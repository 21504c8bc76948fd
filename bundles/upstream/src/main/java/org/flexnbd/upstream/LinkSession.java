package org.flexnbd.upstream;

import java.util.concurrent.atomic.AtomicBoolean;

import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.service.ReplyHandler;
import org.flexnbd.protocol.service.UpstreamSession;

/** A client's hold on an {@link UpstreamLink}, from open to close. */
final class LinkSession implements UpstreamSession {
    private final UpstreamLink link;
    private final ReplyHandler handler;
    private final AtomicBoolean closed = new AtomicBoolean();

    LinkSession(UpstreamLink link, ReplyHandler handler) {
        this.link = link;
        this.handler = handler;
    }

    @Override
    public UpstreamExport export() {
        return link.export();
    }

    @Override
    public long connectionGeneration() {
        return link.connectionGeneration();
    }

    @Override
    public void submit(Request request, boolean more) {
        link.submit(this, request, more);
    }

    @Override
    public void flush() {
        link.flush(this);
    }

    @Override
    public void disconnect(Request disc) {
        link.disconnect(this, disc);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            link.detach(this);
        }
    }

    void deliver(Request request, Reply reply) {
        handler.reply(this, request, reply);
    }

    void flushReplies() {
        handler.flush();
    }
}
