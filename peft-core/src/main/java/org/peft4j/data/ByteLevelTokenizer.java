package org.peft4j.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A tokenizer with no files: ids 0..255 are the bytes of the UTF-8 encoding, 256 is {@code <|bos|>}, 257
 * {@code <|eos|>} and 258 {@code <|pad|>}. The special tokens written in a text are recognised, so
 * {@code decode(encode(s)).equals(s)} for every string {@code s}.
 */
public final class ByteLevelTokenizer implements Tokenizer {
    /** Id of {@code <|bos|>}. */
    public static final long BOS = 256;
    /** Id of {@code <|eos|>}. */
    public static final long EOS = 257;
    /** Id of {@code <|pad|>}. */
    public static final long PAD = 258;
    private static final String[] SPECIALS = {"<|bos|>", "<|eos|>", "<|pad|>"};

    @Override
    public long[] encode(String text, boolean addSpecialTokens) {
        long[] ids = encodeWithOffsets(text).ids();
        if (!addSpecialTokens) {
            return ids;
        }
        long[] out = new long[ids.length + 1];
        out[0] = BOS;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    @Override
    public TokenizedText encodeWithOffsets(String text) {
        List<long[]> tokens = new ArrayList<>(); // {id, start, end}
        int i = 0;
        while (i < text.length()) {
            int special = specialAt(text, i);
            if (special >= 0) {
                tokens.add(new long[] {256 + special, i, i + SPECIALS[special].length()});
                i += SPECIALS[special].length();
                continue;
            }
            int cp = text.codePointAt(i);
            int n = Character.charCount(cp);
            byte[] bytes = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
            for (byte b : bytes) {
                tokens.add(new long[] {b & 0xff, i, i + n});
            }
            i += n;
        }
        long[] ids = new long[tokens.size()];
        int[] start = new int[tokens.size()];
        int[] end = new int[tokens.size()];
        for (int t = 0; t < ids.length; t++) {
            ids[t] = tokens.get(t)[0];
            start[t] = (int) tokens.get(t)[1];
            end[t] = (int) tokens.get(t)[2];
        }
        return new TokenizedText(ids, start, end);
    }

    private static int specialAt(String text, int i) {
        for (int s = 0; s < SPECIALS.length; s++) {
            if (text.startsWith(SPECIALS[s], i)) {
                return s;
            }
        }
        return -1;
    }

    /**
     * {@inheritDoc} Byte runs that are not valid UTF-8 (only possible for ids not produced by {@link #encode})
     * decode to U+FFFD.
     */
    @Override
    public String decode(long[] ids) {
        StringBuilder sb = new StringBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (long id : ids) {
            if (id >= 0 && id < 256) {
                bytes.write((int) id);
            } else if (id >= 256 && id < 256 + SPECIALS.length) {
                sb.append(bytes.toString(StandardCharsets.UTF_8));
                bytes.reset();
                sb.append(SPECIALS[(int) id - 256]);
            } else {
                throw new IllegalArgumentException("token id " + id + " out of range [0, " + vocabSize() + ")");
            }
        }
        sb.append(bytes.toString(StandardCharsets.UTF_8));
        return sb.toString();
    }

    @Override
    public Long bosTokenId() {
        return BOS;
    }

    @Override
    public Long eosTokenId() {
        return EOS;
    }

    @Override
    public Long padTokenId() {
        return PAD;
    }

    @Override
    public int vocabSize() {
        return 256 + SPECIALS.length;
    }
}
