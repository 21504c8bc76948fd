package org.flexnbd.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.WireInput;
import org.flexnbd.protocol.WireOutput;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** WireInput and WireOutput alone: a request header's six fields out to memory, and back in. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"})
@State(Scope.Thread)
public class WireBenchmark {
    private WireInput in;
    private WireOutput out;
    private Channels.Sink sink;

    private static void header(WireOutput o) throws IOException {
        o.writeInt(Nbd.REQUEST_MAGIC).writeShort(0).writeShort(Nbd.CMD_READ).writeLong(42).writeLong(4096)
                .writeInt(4096);
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        in = new WireInput(new Channels.Repeating(CodecBenchmark.encode(WireBenchmark::header), CodecBenchmark.BUFFER),
                CodecBenchmark.BUFFER);
        sink = new Channels.Sink();
        out = new WireOutput(sink, CodecBenchmark.BUFFER);
    }

    /** Six fields into the buffer, and a flush: one write call per header, as for a lone reply. */
    @Benchmark
    public long writeHeaderAndFlush() throws IOException {
        header(out);
        out.flush();
        return sink.written;
    }

    /** Six fields into the buffer; a flush only when it is full, as in a burst of replies. */
    @Benchmark
    public int writeHeaderBuffered() throws IOException {
        header(out);
        return out.pending();
    }

    /** Six fields out of the buffer, refilled from the channel when it runs dry. */
    @Benchmark
    public long readHeader() throws IOException {
        return in.readInt() + in.readUnsignedShort() + in.readUnsignedShort() + in.readLong() + in.readLong()
                + in.readUnsignedInt();
    }
}
