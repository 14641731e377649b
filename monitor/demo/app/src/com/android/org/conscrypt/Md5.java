package com.android.org.conscrypt;

import java.security.MessageDigestSpi;

/** MD5 (RFC 1321) in Java, for the host-ART stand-in provider. */
public final class Md5 extends MessageDigestSpi {
    private static final int[] S = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};
    private static final int[] K = new int[64];
    static {
        for (int i = 0; i < 64; i++) K[i] = (int) (long) ((1L << 32) * Math.abs(Math.sin(i + 1)));
    }
    private final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();

    @Override protected void engineUpdate(byte input) { buffer.write(input); }
    @Override protected void engineUpdate(byte[] input, int offset, int length) { buffer.write(input, offset, length); }
    @Override protected void engineReset() { buffer.reset(); }
    @Override protected int engineGetDigestLength() { return 16; }

    @Override
    protected byte[] engineDigest() {
        byte[] message = buffer.toByteArray();
        buffer.reset();
        int blocks = (message.length + 8) / 64 + 1;
        byte[] padded = new byte[blocks * 64];
        System.arraycopy(message, 0, padded, 0, message.length);
        padded[message.length] = (byte) 0x80;
        long bits = (long) message.length * 8;
        for (int i = 0; i < 8; i++) padded[padded.length - 8 + i] = (byte) (bits >>> (8 * i));
        int a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
        int[] m = new int[16];
        for (int block = 0; block < blocks; block++) {
            for (int j = 0; j < 16; j++) {
                int at = block * 64 + j * 4;
                m[j] = (padded[at] & 0xff) | (padded[at + 1] & 0xff) << 8 | (padded[at + 2] & 0xff) << 16 | (padded[at + 3] & 0xff) << 24;
            }
            int a = a0, b = b0, c = c0, d = d0;
            for (int i = 0; i < 64; i++) {
                int f, g;
                if (i < 16) { f = (b & c) | (~b & d); g = i; }
                else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
                else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
                else { f = c ^ (b | ~d); g = (7 * i) % 16; }
                int rotated = a + f + K[i] + m[g];
                a = d;
                d = c;
                c = b;
                b = b + Integer.rotateLeft(rotated, S[(i / 16) * 4 + i % 4]);
            }
            a0 += a; b0 += b; c0 += c; d0 += d;
        }
        byte[] digest = new byte[16];
        int[] words = {a0, b0, c0, d0};
        for (int w = 0; w < 4; w++) for (int i = 0; i < 4; i++) digest[w * 4 + i] = (byte) (words[w] >>> (8 * i));
        return digest;
    }
}
