package org.peft4j.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * A SentencePiece BPE tokenizer in Java (sentencepiece's {@code bpe_model.cc} encoder and its decoder), read from a
 * {@code tokenizer.model}: the identity normalizer with the model's {@code add_dummy_prefix},
 * {@code remove_extra_whitespaces} and {@code escape_whitespaces}; user-defined pieces matched first and never
 * merged; the adjacent pair whose merge is a piece of the highest score merged first (the leftmost on ties); a
 * symbol that is no piece becomes its UTF-8 bytes ({@code <0xXX>}) with {@code byte_fallback}, else the unknown id
 * (consecutive unknowns merged, as sentencepiece does). Ids and {@link #decode} match sentencepiece's
 * {@code encode} / {@code decode}; special tokens are not parsed from the text.
 *
 * <p>Unsupported (refused when the model needs them): unigram / word / char models, a precompiled normalization
 * charsmap (e.g. {@code nmt_nfkc}), {@code treat_whitespace_as_suffix}. {@code UNUSED} pieces are not merged into.
 */
public class SentencePieceTokenizer implements Tokenizer, AutoCloseable {
    static final String SPACE = "\u2581";

    private final SentencePieceModel model;
    private final Map<String, Integer> mergeable = new HashMap<>();
    private final Map<String, Integer> all = new HashMap<>();
    private final List<String> userDefined = new ArrayList<>();
    private final int[] byteIds = new int[256];

    /**
     * A tokenizer for a parsed model.
     *
     * @throws IllegalArgumentException for a model type or normalizer this class does not implement
     */
    public SentencePieceTokenizer(SentencePieceModel model) {
        this.model = model;
        if (model.modelType() != SentencePieceModel.BPE) {
            throw new IllegalArgumentException("SentencePiece model type " + model.modelType()
                    + " is not supported: peft4j implements the BPE type (2)");
        }
        if (model.precompiledCharsmapLength() > 0) {
            throw new IllegalArgumentException("SentencePiece normalizer '" + model.normalizerName()
                    + "' (a precompiled charsmap) is not supported: peft4j implements the identity normalizer");
        }
        if (model.treatWhitespaceAsSuffix()) {
            throw new IllegalArgumentException("SentencePiece treat_whitespace_as_suffix is not supported");
        }
        java.util.Arrays.fill(byteIds, -1);
        List<SentencePieceModel.Piece> pieces = model.pieces();
        for (int id = 0; id < pieces.size(); id++) {
            SentencePieceModel.Piece p = pieces.get(id);
            all.putIfAbsent(p.piece(), id);
            switch (p.type()) {
                case NORMAL:
                    mergeable.putIfAbsent(p.piece(), id);
                    break;
                case USER_DEFINED:
                    mergeable.putIfAbsent(p.piece(), id);
                    userDefined.add(p.piece());
                    break;
                case BYTE:
                    byteIds[Integer.parseInt(p.piece().substring(3, 5), 16)] = id;
                    break;
                default:
                    break;
            }
        }
        userDefined.sort((a, b) -> b.length() - a.length());
    }

    /** Reads {@code tokenizer.model} from a folder (or the file itself). */
    public static SentencePieceTokenizer load(Path path) {
        Path file = path.toFile().isDirectory() ? path.resolve("tokenizer.model") : path;
        return new SentencePieceTokenizer(SentencePieceModel.load(file));
    }

    /**
     * The parsed {@code tokenizer.model}.
     *
     * @return the model
     */
    public SentencePieceModel model() {
        return model;
    }

    /** The id of a piece (any type), or the unknown id. */
    public int pieceToId(String piece) {
        return all.getOrDefault(piece, model.unkId());
    }

    /** The piece of an id. */
    public String idToPiece(int id) {
        return model.pieces().get(id).piece();
    }

    /** The normalized text and, for each of its chars, the index of the original char it came from. */
    record Normalized(String text, int[] origin) {
    }

    /** sentencepiece's {@code Normalizer::Normalize} with the identity mapping. */
    Normalized normalize(String input) {
        StringBuilder out = new StringBuilder();
        List<Integer> origin = new ArrayList<>();
        int i = 0;
        int n = input.length();
        boolean remove = model.removeExtraWhitespaces();
        if (remove) {
            while (i < n && input.charAt(i) == ' ') {
                i++;
            }
        }
        if (i >= n) {
            return new Normalized("", new int[0]);
        }
        if (model.addDummyPrefix()) {
            out.append(model.escapeWhitespaces() ? SPACE : " ");
            origin.add(i);
        }
        boolean prevSpace = remove;
        for (; i < n; i++) {
            char c = input.charAt(i);
            if (c == ' ') {
                if (prevSpace) {
                    continue;
                }
                out.append(model.escapeWhitespaces() ? SPACE : " ");
                origin.add(i);
                prevSpace = remove;
            } else {
                out.append(c);
                origin.add(i);
                prevSpace = false;
            }
        }
        if (remove) {
            String sp = model.escapeWhitespaces() ? SPACE : " ";
            while (out.length() > 0 && out.toString().endsWith(sp)) {
                out.setLength(out.length() - sp.length());
                origin.remove(origin.size() - 1);
            }
        }
        return new Normalized(out.toString(), origin.stream().mapToInt(Integer::intValue).toArray());
    }

    private static final class Symbol {
        int start;
        int end;
        int prev;
        int next;
        boolean freeze;
    }

    private record Pair(int left, int right, float score, int size) {
    }

    /** The pieces' spans [start, end) over the normalized text after the BPE merges. */
    private List<int[]> segment(String text) {
        List<Symbol> symbols = new ArrayList<>();
        int pos = 0;
        while (pos < text.length()) {
            Symbol s = new Symbol();
            s.start = pos;
            int len = 0;
            for (String u : userDefined) {
                if (text.startsWith(u, pos)) {
                    len = u.length();
                    s.freeze = true;
                    break;
                }
            }
            if (len == 0) {
                len = Character.charCount(text.codePointAt(pos));
            }
            s.end = pos + len;
            s.prev = symbols.size() - 1;
            pos += len;
            s.next = pos < text.length() ? symbols.size() + 1 : -1;
            symbols.add(s);
        }
        PriorityQueue<Pair> agenda = new PriorityQueue<>((a, b) -> a.score != b.score
                ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < symbols.size(); i++) {
            addPair(text, symbols, agenda, i - 1, i);
        }
        while (!agenda.isEmpty()) {
            Pair top = agenda.poll();
            Symbol l = symbols.get(top.left);
            Symbol r = symbols.get(top.right);
            if (l.start == l.end || r.start == r.end || (l.end - l.start) + (r.end - r.start) != top.size
                    || l.next != top.right) {
                continue;
            }
            l.end = r.end;
            l.next = r.next;
            if (r.next >= 0) {
                symbols.get(r.next).prev = top.left;
            }
            r.start = r.end;
            addPair(text, symbols, agenda, l.prev, top.left);
            addPair(text, symbols, agenda, top.left, l.next);
        }
        List<int[]> out = new ArrayList<>();
        for (int i = symbols.isEmpty() ? -1 : 0; i != -1; i = symbols.get(i).next) {
            out.add(new int[] {symbols.get(i).start, symbols.get(i).end});
        }
        return out;
    }

    private void addPair(String text, List<Symbol> symbols, PriorityQueue<Pair> agenda, int left, int right) {
        if (left == -1 || right == -1 || symbols.get(left).freeze || symbols.get(right).freeze) {
            return;
        }
        Symbol l = symbols.get(left);
        Symbol r = symbols.get(right);
        Integer id = mergeable.get(text.substring(l.start, r.end));
        if (id == null) {
            return;
        }
        agenda.add(new Pair(left, right, model.pieces().get(id).score(), r.end - l.start));
    }

    /** The ids, with the bos id first when {@code addSpecialTokens} and the model has one. */
    @Override
    public long[] encode(String text, boolean addSpecialTokens) {
        long[] ids = encodeWithOffsets(text).ids();
        if (!addSpecialTokens || model.bosId() < 0) {
            return ids;
        }
        long[] out = new long[ids.length + 1];
        out[0] = model.bosId();
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** The pieces of {@code text} as sentencepiece's {@code encode(out_type=str)}. */
    public List<String> encodeAsPieces(String text) {
        List<String> out = new ArrayList<>();
        for (long id : encode(text, false)) {
            out.add(idToPiece((int) id));
        }
        return out;
    }

    @Override
    public TokenizedText encodeWithOffsets(String text) {
        Normalized norm = normalize(text);
        String s = norm.text();
        List<Long> ids = new ArrayList<>();
        List<int[]> spans = new ArrayList<>();
        boolean prevUnk = false;
        for (int[] seg : segment(s)) {
            String piece = s.substring(seg[0], seg[1]);
            int start = norm.origin()[seg[0]];
            int end = norm.origin()[seg[1] - 1] + 1;
            if (end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) {
                end++;
            }
            Integer id = mergeable.get(piece);
            if (id != null) {
                ids.add((long) id);
                spans.add(new int[] {start, end});
                prevUnk = false;
            } else if (model.byteFallback()) {
                for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                    ids.add((long) byteIds[b & 0xff]);
                    spans.add(new int[] {start, end});
                }
                prevUnk = false;
            } else if (prevUnk) {
                spans.get(spans.size() - 1)[1] = end;
            } else {
                ids.add((long) model.unkId());
                spans.add(new int[] {start, end});
                prevUnk = true;
            }
        }
        long[] out = new long[ids.size()];
        int[] st = new int[ids.size()];
        int[] en = new int[ids.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(i);
            st[i] = spans.get(i)[0];
            en[i] = spans.get(i)[1];
        }
        return new TokenizedText(out, st, en);
    }

    /**
     * sentencepiece's {@code decode}: control pieces give nothing, the unknown piece its surface, byte pieces their
     * bytes (invalid UTF-8 as U+FFFD), {@code ▁} a space; the leading {@code ▁} of the first piece is dropped (with
     * {@code remove_extra_whitespaces}, of every piece until something is output).
     */
    @Override
    public String decode(long[] ids) {
        List<String> pieces = new ArrayList<>();
        for (long id : ids) {
            pieces.add(idToPiece((int) id));
        }
        return decodePieces(pieces);
    }

    /**
     * sentencepiece's {@code decode_pieces}: as {@link #decode(long[])}, where a string that is no piece is output
     * as it is.
     */
    public String decodePieces(List<String> pieces) {
        StringBuilder out = new StringBuilder();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean remove = model.removeExtraWhitespaces();
        boolean bosWs = model.addDummyPrefix() || remove;
        for (String piece : pieces) {
            int id = pieceToId(piece);
            SentencePieceModel.PieceType type = model.pieces().get(id).type();
            if (type == SentencePieceModel.PieceType.BYTE) {
                bytes.write(Integer.parseInt(piece.substring(3, 5), 16));
                continue;
            }
            if (bytes.size() > 0) {
                String t = decodeBytes(bytes.toByteArray());
                out.append(t);
                bosWs = remove && bosWs && t.isEmpty();
                bytes.reset();
            }
            if (type == SentencePieceModel.PieceType.CONTROL) {
                continue;
            }
            String text;
            if (type == SentencePieceModel.PieceType.UNKNOWN) {
                text = piece.equals(idToPiece(id)) ? model.unkSurface() : piece;
            } else {
                text = piece;
                if (bosWs) {
                    do {
                        text = text.startsWith(SPACE) ? text.substring(SPACE.length()) : text;
                    } while (remove && text.startsWith(SPACE));
                }
                text = text.replace(SPACE, " ");
            }
            out.append(text);
            bosWs = remove && bosWs && text.isEmpty();
        }
        if (bytes.size() > 0) {
            out.append(decodeBytes(bytes.toByteArray()));
        }
        return out.toString();
    }

    /** UTF-8 to text as sentencepiece decodes byte pieces: each byte that starts no valid char becomes U+FFFD. */
    static String decodeBytes(byte[] b) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < b.length) {
            int c = b[i] & 0xff;
            int len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                    : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
            boolean ok = len > 0 && i + len <= b.length;
            for (int k = 1; ok && k < len; k++) {
                ok = (b[i + k] & 0xc0) == 0x80;
            }
            if (ok && len > 1) {
                int cp = c & (0xff >> (len + 1));
                for (int k = 1; k < len; k++) {
                    cp = (cp << 6) | (b[i + k] & 0x3f);
                }
                int min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
                ok = cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
                if (ok) {
                    out.appendCodePoint(cp);
                }
            } else if (ok) {
                out.append((char) c);
            }
            if (ok) {
                i += len;
            } else {
                out.append('\ufffd');
                i++;
            }
        }
        return out.toString();
    }

    @Override
    public Long bosTokenId() {
        return model.bosId() < 0 ? null : (long) model.bosId();
    }

    @Override
    public Long eosTokenId() {
        return model.eosId() < 0 ? null : (long) model.eosId();
    }

    @Override
    public Long padTokenId() {
        return model.padId() < 0 ? null : (long) model.padId();
    }

    @Override
    public int vocabSize() {
        return model.pieces().size();
    }

    /** Nothing to free (pure Java). */
    @Override
    public void close() {
    }
}
