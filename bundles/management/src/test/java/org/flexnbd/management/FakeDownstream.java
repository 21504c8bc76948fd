package org.flexnbd.management;

import java.io.IOException;
import java.util.List;

import org.flexnbd.protocol.service.Downstream;

/** A Downstream that reports what the test sets. */
final class FakeDownstream implements Downstream {
    volatile String listen = "127.0.0.1:10809";
    volatile IOException listenFailure;
    volatile List<String> clients = List.of();
    volatile List<String> tls = List.of();
    volatile long requests;
    volatile long bytes;

    @Override
    public String listenAddress() throws IOException {
        if (listenFailure != null) {
            throw listenFailure;
        }
        return listen;
    }

    @Override
    public List<String> clientAddresses() {
        return clients;
    }

    @Override
    public List<String> clientTls() {
        return tls;
    }

    @Override
    public long requestsRelayed() {
        return requests;
    }

    @Override
    public long bytesRelayed() {
        return bytes;
    }
}
