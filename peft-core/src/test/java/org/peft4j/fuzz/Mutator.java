package org.peft4j.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

/**
 * Seeded byte-level mutator shared by the in-build fuzz tests: bit flips, byte overwrites, deletions, duplications,
 * insertion of hostile tokens (huge and negative numbers, deep nesting, long strings, broken UTF-8, JSON delimiters)
 * and truncation. Deterministic for a given {@link Random}, so a failing try is reproduced by its seed and index.
 */
final class Mutator {
    private static final String[] TOKENS = {"-1", "0", "4294967296", "18446744073709551615", "18446744073709551616",
        "1e20", "1e400", "-1e400", "NaN", "Infinity", "1.5", "null", "true", "[]", "{}", "\"\"", "\"x\"", "[[[[[[[[",
        "]]]]", "{\"a\":", "\"", ",", ":", "\\u0000", "\\ud800", "F32", "BF16", "I64", "BOOL", "dtype", "shape",
        "data_offsets", "__metadata__", "messages", "role", "content", "instruction", "output", "input",
        "assistant", "user", "system", "\n"};

    private Mutator() {}

    static byte[] mutate(byte[] seed, Random r) {
        byte[] b = seed;
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) {
            b = once(b, r);
        }
        return b;
    }

    private static byte[] once(byte[] b, Random r) {
        int len = b.length;
        int at = len == 0 ? 0 : r.nextInt(len);
        switch (r.nextInt(9)) {
            case 0: // bit flip
                if (len > 0) {
                    b = b.clone();
                    b[at] ^= (byte) (1 << r.nextInt(8));
                }
                return b;
            case 1: // overwrite with an interesting byte
                if (len > 0) {
                    b = b.clone();
                    byte[] v = {0, (byte) 0xff, (byte) 0x7f, (byte) 0x80, '"', '{', '}', '[', ']', ',', ':', '9', '-'};
                    b[at] = v[r.nextInt(v.length)];
                }
                return b;
            case 2: // delete a range
                return splice(b, at, Math.min(len - at, 1 + r.nextInt(16)), new byte[0]);
            case 3: // duplicate a range
                int k = Math.min(len - at, 1 + r.nextInt(64));
                return splice(b, at, 0, Arrays.copyOfRange(b, at, at + k));
            case 4: // insert a hostile token
            case 5:
                return splice(b, at, 0, TOKENS[r.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8));
            case 6: // replace a digit run by a hostile number
                int d = at;
                while (d < len && (b[d] < '0' || b[d] > '9')) {
                    d++;
                }
                int e = d;
                while (e < len && b[e] >= '0' && b[e] <= '9') {
                    e++;
                }
                return splice(b, d, e - d, TOKENS[r.nextInt(7)].getBytes(StandardCharsets.UTF_8));
            case 7: // truncate
                return Arrays.copyOf(b, at);
            default: // a long run of one character (keys, strings, nesting)
                byte[] run = new byte[1 + r.nextInt(5000)];
                Arrays.fill(run, (byte) "a[{\"9 ".charAt(r.nextInt(6)));
                return splice(b, at, 0, run);
        }
    }

    private static byte[] splice(byte[] b, int at, int remove, byte[] insert) {
        byte[] out = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(b, at + remove, out, at + insert.length, b.length - at - remove);
        return out;
    }
}
