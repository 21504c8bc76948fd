package org.flexnbd.itests.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.ClientHandshake;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.SimpleConversion;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/** An NBD client whose every byte a test controls: pipelining, malformed requests, vanishing mid-request. */
public final class ScriptedClient implements AutoCloseable {
    public final SocketChannel socket;
    public final WireInput in;
    public final WireOutput out;
    public final UpstreamExport export;
    private final Map<Long, Request> sent = new ConcurrentHashMap<>();
    private final Map<Long, List<Chunk>> partial = new HashMap<>();

    public ScriptedClient(int port) throws IOException {
        this(port, "");
    }

    /** A client asking for the named export. */
    public ScriptedClient(int port, String exportName) throws IOException {
        socket = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        in = new WireInput(socket, 1 << 16);
        out = new WireOutput(socket, 1 << 16);
        try {
            export = ClientHandshake.negotiate(in, out, exportName, List.of());
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    public void send(Request r) throws IOException {
        sent.put(r.cookie(), r);
        RequestCodec.write(out, r);
        out.flush();
    }

    /** Announces a request sent raw, so that its reply can be read. */
    public void expect(Request r) {
        sent.put(r.cookie(), r);
    }

    /** Sends raw bytes, for requests the codec would never write. */
    public void sendRaw(ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            socket.write(bytes);
        }
    }

    /**
     * The next complete reply. A structured one is gathered to its DONE chunk and given as the simple reply it
     * stands for (its data assembled), so that tests read alike whatever the upstream negotiated.
     */
    public Reply next() throws IOException {
        while (true) {
            ReplyMessage m = ReplyCodec.read(in, sent::get, Nbd.MAX_PAYLOAD);
            if (m.simple() != null) {
                sent.remove(m.cookie());
                return m.simple();
            }
            List<Chunk> chunks = partial.computeIfAbsent(m.cookie(), k -> new ArrayList<>());
            chunks.add(m.chunk());
            if (m.chunk().isDone()) {
                partial.remove(m.cookie());
                Request request = sent.remove(m.cookie());
                return SimpleConversion.toSimple(request, Reply.structured(m.cookie(), chunks));
            }
        }
    }

    public Reply call(Request r) throws IOException {
        send(r);
        return next();
    }

    public static Request write(long cookie, long offset, byte fill, int length) {
        byte[] data = new byte[length];
        java.util.Arrays.fill(data, fill);
        return Request.write(0, cookie, offset, ByteBuffer.wrap(data));
    }

    public static Request read(long cookie, long offset, int length) {
        return Request.of(Nbd.CMD_READ, 0, cookie, offset, length);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
