package org.flexnbd.upstream;

import java.util.concurrent.atomic.AtomicBoolean;

import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.loop.EventLoop;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.UpstreamSession;

/** A client's hold on an {@link UpstreamLink}, from open to close. */
final class LinkSession implements UpstreamSession {
    private final UpstreamLink link;
    private final RequestLedger ledger;
    private final AtomicBoolean closed = new AtomicBoolean();

    LinkSession(UpstreamLink link, RequestLedger ledger) {
        this.link = link;
        this.ledger = ledger;
    }

    RequestLedger ledger() {
        return ledger;
    }

    @Override
    public UpstreamExport export() {
        return link.export();
    }

    @Override
    public void send(boolean more) {
        link.send(this, more);
    }

    @Override
    public void flush() {
        link.send(this, false);
    }

    @Override
    public EventLoop loop() {
        return link.loop();
    }

    @Override
    public void written() {
        link.written(this);
    }

    @Override
    public boolean congested() {
        return link.congested();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            link.detach(this);
        }
    }
}
