package org.flexnbd.management;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.service.RequestLedger;
import org.flexnbd.protocol.service.Upstream;
import org.flexnbd.protocol.service.UpstreamSession;
import org.flexnbd.protocol.service.UpstreamStatus;

/** An Upstream that reports what the test sets, and records the operations asked of it. */
final class FakeUpstream implements Upstream {
    volatile UpstreamStatus status = new UpstreamStatus("CONNECTED", "10.0.0.1:4777", 0, 0, 0, "", 0, 1L << 30, 0x1cd, 0, 0, 0);
    volatile IOException retargetFailure;
    volatile RuntimeException reconnectFailure;
    final List<String> calls = new ArrayList<>();

    @Override
    public UpstreamExport awaitReady(Duration timeout) {
        throw new UnsupportedOperationException("not used by management");
    }

    @Override
    public UpstreamSession open(RequestLedger ledger) {
        throw new UnsupportedOperationException("not used by management");
    }

    @Override
    public UpstreamStatus status() {
        return status;
    }

    @Override
    public synchronized void reconnect() {
        if (reconnectFailure != null) {
            throw reconnectFailure;
        }
        calls.add("reconnect");
    }

    @Override
    public synchronized void retarget(String address, int port) throws IOException {
        if (retargetFailure != null) {
            throw retargetFailure;
        }
        calls.add("retarget " + address + " " + port);
    }

    synchronized List<String> calls() {
        return List.copyOf(calls);
    }
}
