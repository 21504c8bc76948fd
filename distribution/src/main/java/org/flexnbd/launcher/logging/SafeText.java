package org.flexnbd.launcher.logging;

/**
 * Makes any text safe to put in one log line, whoever wrote it: an export name a client sent, a path in a file, an
 * exception's message. Line breaks (LF, CR, CR LF) become one blank, as the log line contract has always said. Every
 * other character a terminal or a log reader would act on is written out as an escape, so that nothing in a message
 * can end the line, start a forged one, move the cursor, hide text or reverse it:
 * C0 controls, DEL and C1 controls as {@code \xNN}; U+2028 and U+2029 (line and paragraph separators), the bidi
 * marks, embeddings, overrides and isolates, the byte order mark, and lone surrogates as {@code \\uNNNN}.
 */
final class SafeText {
    private SafeText() {
    }

    static String of(CharSequence s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String replacement = replacement(s, i, c);
            if (replacement == null) {
                if (b != null) {
                    b.append(c);
                }
                continue;
            }
            if (b == null) {
                b = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
                i++; // CR LF: one blank
            }
            b.append(replacement);
        }
        return b == null ? s.toString() : b.toString();
    }

    /** What the character at i becomes, or null when it stays. */
    private static String replacement(CharSequence s, int i, char c) {
        if (c == '\n' || c == '\r') {
            return " ";
        }
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
            return String.format("\\x%02x", (int) c);
        }
        if (c == '\u2028' || c == '\u2029' || c == '\u200e' || c == '\u200f' || c == '\u061c' || c == '\ufeff'
                || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069')) {
            return String.format("\\u%04x", (int) c);
        }
        if (Character.isHighSurrogate(c) && !(i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1)))
                || Character.isLowSurrogate(c) && !(i > 0 && Character.isHighSurrogate(s.charAt(i - 1)))) {
            return String.format("\\u%04x", (int) c);
        }
        return null;
    }
}
