package org.flexnbd.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.flexnbd.protocol.Chunk;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.ReplyCodec;
import org.flexnbd.protocol.ReplyMessage;
import org.flexnbd.protocol.Request;
import org.flexnbd.protocol.RequestCodec;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The codecs on the proxy's data path, each message decoded from or encoded to memory through WireInput and
 * WireOutput with the proxy's 256 KiB buffers. {@code payload} is the data a WRITE request or a READ reply carries
 * (0 for a header-only message: a READ request, a WRITE's reply). Average time per message, in nanoseconds: the
 * proxy decodes and encodes each request once and each reply once, so a 4 KiB request at 100k IOPS has 10 µs of
 * wall time, of which these figures are the codec's share.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"})
@State(Scope.Thread)
public class CodecBenchmark {
    /** The proxy's WireInput and WireOutput buffer size (ClientSession, upstream Connection). */
    static final int BUFFER = 256 * 1024;

    @Param({"0", "4096", "1048576"})
    public int payload;

    private WireInput requestIn;
    private WireInput simpleReplyIn;
    private WireInput chunkIn;
    private WireOutput out;
    private Channels.Sink sink;

    private Request request;
    private Request readRequest;
    private ByteBuffer data;
    private Chunk chunk;
    private long cookie;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        cookie = ThreadLocalRandom.current().nextLong();
        data = ByteBuffer.allocate(payload);
        ThreadLocalRandom.current().nextBytes(data.array());
        // With a payload, a WRITE request; without, a READ request (its 28-byte header alone).
        request = payload > 0 ? Request.write(0, cookie, 1 << 20, data)
                : Request.of(Nbd.CMD_READ, 0, cookie, 1 << 20, 4096);
        // The READ a simple reply answers: the decoder needs its length to read the data.
        readRequest = payload > 0 ? Request.of(Nbd.CMD_READ, 0, cookie, 1 << 20, payload)
                : Request.of(Nbd.CMD_WRITE, 0, cookie, 1 << 20, 0);
        // With a payload, an OFFSET_DATA chunk (8-byte offset, then the data); without, the NONE chunk that ends
        // a structured reply.
        if (payload > 0) {
            ByteBuffer chunkPayload = ByteBuffer.allocate(8 + payload);
            chunkPayload.putLong(1 << 20).put(data.duplicate()).flip();
            chunk = new Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, chunkPayload);
        } else {
            chunk = new Chunk(Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, ByteBuffer.allocate(0));
        }

        requestIn = new WireInput(new Channels.Repeating(encode(o -> RequestCodec.write(o, request)), BUFFER), BUFFER);
        simpleReplyIn = new WireInput(new Channels.Repeating(
                encode(o -> ReplyCodec.writeSimple(o, cookie, 0, payload > 0 ? data : null)), BUFFER), BUFFER);
        chunkIn = new WireInput(new Channels.Repeating(encode(o -> ReplyCodec.writeChunk(o, chunk)), BUFFER), BUFFER);
        sink = new Channels.Sink();
        out = new WireOutput(sink, BUFFER);
    }

    interface Encoder {
        void encode(WireOutput out) throws IOException;
    }

    static byte[] encode(Encoder e) throws IOException {
        Channels.Collect c = new Channels.Collect();
        WireOutput o = new WireOutput(c, BUFFER);
        e.encode(o);
        o.flush();
        return c.toByteArray();
    }

    // --- requests: what the downstream reads from the client, and writes to the upstream ---

    @Benchmark
    public Request requestRead() throws IOException {
        return RequestCodec.read(requestIn, 32 << 20);
    }

    @Benchmark
    public long requestWrite() throws IOException {
        RequestCodec.write(out, request);
        out.flush();
        return sink.written;
    }

    // --- replies: what the upstream reads from the server, and the downstream writes to the client ---

    @Benchmark
    public ReplyMessage simpleReplyRead() throws IOException {
        return ReplyCodec.read(simpleReplyIn, c -> readRequest, 32 << 20);
    }

    @Benchmark
    public long simpleReplyWrite() throws IOException {
        ReplyCodec.writeSimple(out, cookie, 0, payload > 0 ? data : null);
        out.flush();
        return sink.written;
    }

    @Benchmark
    public ReplyMessage chunkRead() throws IOException {
        return ReplyCodec.read(chunkIn, c -> readRequest, 32 << 20);
    }

    @Benchmark
    public long chunkWrite() throws IOException {
        ReplyCodec.writeChunk(out, chunk);
        out.flush();
        return sink.written;
    }

    // --- the primitives under every header ---
}
