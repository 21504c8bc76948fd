package org.flexnbd.demo;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.ClientHandshake;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.Reply;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.ReplyValidator;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.SimpleConversion;
import org.flexnbd.protocol.UpstreamExport;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;

/** An NBD client made of the protocol bundle's codecs, for driving a server from a test. */
final class TestClient implements Closeable {
    final SocketChannel channel;
    final WireInput in;
    final WireOutput out;
    private final Map<Long, Request> outstanding = new HashMap<>();
    private final Map<Long, List<Chunk>> partial = new HashMap<>();
    UpstreamExport export;
    /** Every reply of a negotiated client is checked: the demo server must keep the protocol's rules itself. */
    private ReplyValidator rules;
    private long nextCookie = 1;

    private TestClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new WireInput(channel, 64 * 1024);
        this.out = new WireOutput(channel, 64 * 1024);
    }

    static TestClient raw(MemoryServer server) throws IOException {
        SocketChannel c = server.port() < 0 ? SocketChannel.open(UnixDomainSocketAddress.of(Path.of(server.address())))
                : SocketChannel.open(new InetSocketAddress("127.0.0.1", server.port()));
        return new TestClient(c);
    }

    static TestClient connectUnix(Path socket, List<String> contexts) throws IOException {
        TestClient client = new TestClient(SocketChannel.open(UnixDomainSocketAddress.of(socket)));
        client.negotiated(ClientHandshake.negotiate(client.in, client.out, "", contexts));
        return client;
    }

    static TestClient connect(MemoryServer server, List<String> contexts) throws IOException {
        TestClient client = raw(server);
        client.negotiated(ClientHandshake.negotiate(client.in, client.out, "", contexts));
        return client;
    }

    private void negotiated(UpstreamExport e) {
        export = e;
        rules = ReplyValidator.of(e);
    }

    long cookie() {
        return nextCookie++;
    }

    void send(Request r) throws IOException {
        outstanding.put(r.cookie(), r);
        RequestCodec.write(out, r);
        out.flush();
    }

    /** Sends raw bytes as they are: for malformed requests. */
    void sendRaw(byte[] bytes, Request expectingReply) throws IOException {
        if (expectingReply != null) {
            outstanding.put(expectingReply.cookie(), expectingReply);
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    /** The next complete reply: a simple one, or every chunk up to the DONE one. */
    Reply awaitReply() throws IOException {
        while (true) {
            ReplyMessage m = ReplyCodec.read(in, outstanding::get, Nbd.MAX_PAYLOAD);
            if (rules != null) {
                if (m.simple() != null) {
                    rules.checkSimple(outstanding.get(m.cookie()), m.simple());
                } else {
                    rules.checkChunk(outstanding.get(m.cookie()), m.chunk());
                }
            }
            if (m.simple() != null) {
                outstanding.remove(m.cookie());
                return m.simple();
            }
            List<Chunk> chunks = partial.computeIfAbsent(m.cookie(), c -> new ArrayList<>());
            chunks.add(m.chunk());
            if (m.chunk().isDone()) {
                partial.remove(m.cookie());
                outstanding.remove(m.cookie());
                return Reply.structured(m.cookie(), chunks);
            }
        }
    }

    Reply call(Request r) throws IOException {
        send(r);
        Reply reply = awaitReply();
        if (reply.cookie() != r.cookie()) {
            throw new IOException("reply for " + reply.cookie() + " while waiting for " + r.cookie());
        }
        return reply;
    }

    int write(long offset, byte[] data, int flags) throws IOException {
        return call(Request.write(flags, cookie(), offset, ByteBuffer.wrap(data))).error();
    }

    byte[] read(long offset, int length) throws IOException {
        Request r = Request.of(Nbd.CMD_READ, 0, cookie(), offset, length);
        Reply reply = SimpleConversion.toSimple(r, call(r));
        if (reply.error() != 0) {
            throw new IOException("READ failed with error " + reply.error());
        }
        ByteBuffer d = reply.data();
        byte[] b = new byte[d.remaining()];
        d.get(b);
        return b;
    }

    int command(int type, int flags, long offset, long length) throws IOException {
        return call(Request.of(type, flags, cookie(), offset, length)).error();
    }

    void disconnect() throws IOException {
        RequestCodec.write(out, Request.of(Nbd.CMD_DISC, 0, cookie(), 0, 0));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
