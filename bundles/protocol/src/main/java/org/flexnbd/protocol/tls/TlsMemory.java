package org.flexnbd.protocol.tls;

/**
 * What one connection's TLS holds for the connection's whole life: its records' buffers and the engine around them.
 * A client with TLS on both sides holds it twice, which can be several times what the client holds otherwise, so a
 * bound on clients must count it.
 *
 * @param heapBytes on the heap
 * @param directBytes in direct memory
 */
public record TlsMemory(long heapBytes, long directBytes) {
    /** Plain text. */
    public static final TlsMemory NONE = new TlsMemory(0, 0);
}
