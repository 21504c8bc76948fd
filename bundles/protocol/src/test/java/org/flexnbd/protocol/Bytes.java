package org.flexnbd.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Builds expected wire bytes by hand, big-endian, independently of the code under test. */
final class Bytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    static Bytes of() {
        return new Bytes();
    }

    Bytes u8(int v) {
        out.write(v & 0xff);
        return this;
    }

    Bytes u16(int v) {
        return u8(v >>> 8).u8(v);
    }

    Bytes u32(long v) {
        return u16((int) (v >>> 16)).u16((int) v);
    }

    Bytes u64(long v) {
        return u32(v >>> 32).u32(v);
    }

    Bytes raw(byte[] b) {
        out.write(b, 0, b.length);
        return this;
    }

    Bytes raw(Bytes b) {
        return raw(b.array());
    }

    /** UTF-8 text without a length. */
    Bytes text(String s) {
        return raw(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A 32-bit length, then the UTF-8 text. */
    Bytes string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return u32(b.length).raw(b);
    }

    Bytes zeroes(int n) {
        return raw(new byte[n]);
    }

    Bytes fill(int n, int value) {
        for (int i = 0; i < n; i++) {
            u8(value);
        }
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] array() {
        return out.toByteArray();
    }

    ByteBuffer buffer() {
        return ByteBuffer.wrap(array());
    }

    // Messages, as the spec lays them out.

    static Bytes request(int flags, int type, long cookie, long offset, long length) {
        return of().u32(Nbd.REQUEST_MAGIC).u16(flags).u16(type).u64(cookie).u64(offset).u32(length);
    }

    static Bytes simpleReply(int error, long cookie) {
        return of().u32(Nbd.SIMPLE_REPLY_MAGIC).u32(error).u64(cookie);
    }

    static Bytes chunkHeader(int flags, int type, long cookie, long length) {
        return of().u32(Nbd.STRUCTURED_REPLY_MAGIC).u16(flags).u16(type).u64(cookie).u32(length);
    }

    static Bytes option(int option, Bytes data) {
        byte[] d = data.array();
        return of().u64(Nbd.IHAVEOPT).u32(option).u32(d.length).raw(d);
    }

    static Bytes option(int option) {
        return option(option, of());
    }

    static Bytes optionReply(int option, int type, Bytes data) {
        byte[] d = data.array();
        return of().u64(Nbd.REPLY_MAGIC).u32(option).u32(type).u32(d.length).raw(d);
    }

    static Bytes optionReply(int option, int type) {
        return optionReply(option, type, of());
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed + (i >>> 8));
        }
        return b;
    }
}
