package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.flexnbd.protocol.ClientHandshake;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/** An NBD client whose every byte a test controls: pipelining, malformed requests, vanishing mid-request. */
final class ScriptedClient implements AutoCloseable {
    final SocketChannel socket;
    final WireInput in;
    final WireOutput out;
    final UpstreamExport export;
    private final Map<Long, Request> sent = new ConcurrentHashMap<>();

    ScriptedClient(int port) throws IOException {
        socket = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        in = new WireInput(socket, 1 << 16);
        out = new WireOutput(socket, 1 << 16);
        export = ClientHandshake.negotiate(in, out, "", List.of());
    }

    void send(Request r) throws IOException {
        sent.put(r.cookie(), r);
        RequestCodec.write(out, r);
        out.flush();
    }

    /** Sends raw bytes, for requests the codec would never write. */
    void sendRaw(ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            socket.write(bytes);
        }
    }

    /** The next complete reply (simple replies only: the scripted upstream offers no structured replies). */
    Reply next() throws IOException {
        ReplyMessage m = ReplyCodec.read(in, sent::get, Nbd.MAX_PAYLOAD);
        if (m.simple() == null) {
            throw new AssertionError("unexpected structured chunk " + m.chunk());
        }
        sent.remove(m.cookie());
        return m.simple();
    }

    Reply call(Request r) throws IOException {
        send(r);
        return next();
    }

    static Request write(long cookie, long offset, byte fill, int length) {
        byte[] data = new byte[length];
        java.util.Arrays.fill(data, fill);
        return Request.write(0, cookie, offset, ByteBuffer.wrap(data));
    }

    static Request read(long cookie, long offset, int length) {
        return Request.of(Nbd.CMD_READ, 0, cookie, offset, length);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
