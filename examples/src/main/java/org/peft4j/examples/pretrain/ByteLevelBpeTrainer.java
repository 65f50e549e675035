package org.peft4j.examples.pretrain;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.util.AtomicFiles;

/**
 * Trains a byte-level BPE tokenizer (GPT-2 / Llama-3 style) on a small corpus and writes it as a Hugging Face
 * {@code tokenizer.json}, so that the embedded default model ships the same kind of tokenizer as a real model.
 *
 * <p>Vocabulary: the special tokens first, then the 256 byte symbols in byte order (GPT-2's byte-to-unicode
 * mapping), then one token per learned merge. Words are split with the ByteLevel pre-tokenizer's regex; the most
 * frequent adjacent pair (ties broken by the smaller pair of symbol strings, so the result is deterministic) is merged
 * until the vocabulary has the asked size. Quadratic in the corpus size, which is fine for the few hundred kilobytes it
 * is meant for.
 */
public final class ByteLevelBpeTrainer {
    /** The ByteLevel pre-tokenizer's split (GPT-2's pattern). */
    static final Pattern SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
    private static final char[] BYTE_TO_CHAR = byteToChar();

    private final List<String> specials;
    private final int vocabSize;

    /**
     * @param specials special tokens, ids 0.. in this order
     * @param vocabSize total vocabulary size (specials + 256 bytes + merges)
     */
    public ByteLevelBpeTrainer(List<String> specials, int vocabSize) {
        if (vocabSize < specials.size() + 256) {
            throw new IllegalArgumentException("vocabSize " + vocabSize + " is below specials + 256 bytes");
        }
        this.specials = List.copyOf(specials);
        this.vocabSize = vocabSize;
    }

    /** GPT-2's reversible byte to printable-character map. */
    static char[] byteToChar() {
        char[] map = new char[256];
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            direct[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            direct[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            direct[b] = true;
        }
        int n = 0;
        for (int b = 0; b < 256; b++) {
            map[b] = direct[b] ? (char) b : (char) (256 + n++);
        }
        return map;
    }

    /** The trained vocabulary (token string to id) and merges, in order. */
    public record Result(Map<String, Integer> vocab, List<String[]> merges) {
    }

    /** Trains on the given texts. */
    public Result train(List<String> texts) {
        Map<String, Integer> wordCounts = new TreeMap<>();
        for (String text : texts) {
            Matcher m = SPLIT.matcher(text);
            while (m.find()) {
                wordCounts.merge(m.group(), 1, Integer::sum);
            }
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        List<String> symbols = new ArrayList<>();
        for (String s : specials) {
            vocab.put(s, vocab.size());
            symbols.add(s);
        }
        for (int b = 0; b < 256; b++) {
            String s = String.valueOf(BYTE_TO_CHAR[b]);
            vocab.put(s, vocab.size());
            symbols.add(s);
        }
        List<int[]> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
            byte[] bytes = e.getKey().getBytes(StandardCharsets.UTF_8);
            int[] ids = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                ids[i] = specials.size() + (bytes[i] & 0xff);
            }
            words.add(ids);
            counts.add(e.getValue());
        }
        List<String[]> merges = new ArrayList<>();
        while (vocab.size() < vocabSize) {
            Map<Long, Integer> pairs = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                int[] ids = words.get(w);
                for (int i = 0; i + 1 < ids.length; i++) {
                    pairs.merge(((long) ids[i] << 32) | ids[i + 1], counts.get(w), Integer::sum);
                }
            }
            long best = -1;
            int bestCount = 1; // a pair seen once is not worth a token
            for (Map.Entry<Long, Integer> e : pairs.entrySet()) {
                int c = e.getValue();
                if (c > bestCount || (c == bestCount && best >= 0 && comparePairs(symbols, e.getKey(), best) < 0)) {
                    best = e.getKey();
                    bestCount = c;
                }
            }
            if (best < 0) {
                break; // nothing left to merge
            }
            int left = (int) (best >>> 32);
            int right = (int) best;
            String merged = symbols.get(left) + symbols.get(right);
            int id = vocab.size();
            vocab.put(merged, id);
            symbols.add(merged);
            merges.add(new String[] {symbols.get(left), symbols.get(right)});
            for (int w = 0; w < words.size(); w++) {
                words.set(w, mergePair(words.get(w), left, right, id));
            }
        }
        return new Result(vocab, merges);
    }

    private static int comparePairs(List<String> symbols, long p, long q) {
        int c = symbols.get((int) (p >>> 32)).compareTo(symbols.get((int) (q >>> 32)));
        return c != 0 ? c : symbols.get((int) p).compareTo(symbols.get((int) q));
    }

    private static int[] mergePair(int[] ids, int left, int right, int id) {
        int n = 0;
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (i + 1 < ids.length && ids[i] == left && ids[i + 1] == right) {
                out[n++] = id;
                i++;
            } else {
                out[n++] = ids[i];
            }
        }
        return n == ids.length ? ids : java.util.Arrays.copyOf(out, n);
    }

    /**
     * Writes {@code tokenizer.json}: the BPE model, the ByteLevel pre-tokenizer and decoder, the special tokens as
     * added tokens, and a post-processor that prepends {@code bosToken} when special tokens are added.
     */
    public void writeTokenizerJson(Result r, String bosToken, Path file) throws IOException {
        JsonObject root = new JsonObject();
        root.addProperty("version", "1.0");
        root.add("truncation", null);
        root.add("padding", null);
        JsonArray added = new JsonArray();
        for (String s : specials) {
            JsonObject t = new JsonObject();
            t.addProperty("id", r.vocab().get(s));
            t.addProperty("content", s);
            t.addProperty("single_word", false);
            t.addProperty("lstrip", false);
            t.addProperty("rstrip", false);
            t.addProperty("normalized", false);
            t.addProperty("special", true);
            added.add(t);
        }
        root.add("added_tokens", added);
        root.add("normalizer", null);
        root.add("pre_tokenizer", byteLevel(false));
        JsonObject post = new JsonObject();
        post.addProperty("type", "TemplateProcessing");
        post.add("single", template(bosToken, "A"));
        JsonArray pair = template(bosToken, "A");
        pair.addAll(template(bosToken, "B"));
        post.add("pair", pair);
        JsonObject st = new JsonObject();
        JsonObject bos = new JsonObject();
        bos.addProperty("id", bosToken);
        JsonArray ids = new JsonArray();
        ids.add(r.vocab().get(bosToken));
        bos.add("ids", ids);
        JsonArray toks = new JsonArray();
        toks.add(bosToken);
        bos.add("tokens", toks);
        st.add(bosToken, bos);
        post.add("special_tokens", st);
        root.add("post_processor", post);
        root.add("decoder", byteLevel(true));
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", null);
        model.add("unk_token", null);
        model.add("continuing_subword_prefix", null);
        model.add("end_of_word_suffix", null);
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.addProperty("ignore_merges", false);
        JsonObject vocab = new JsonObject();
        r.vocab().forEach(vocab::addProperty);
        model.add("vocab", vocab);
        JsonArray merges = new JsonArray();
        for (String[] m : r.merges()) {
            JsonArray p = new JsonArray();
            p.add(m[0]);
            p.add(m[1]);
            merges.add(p);
        }
        model.add("merges", merges);
        root.add("model", model);
        String json = new GsonBuilder().serializeNulls().setPrettyPrinting().disableHtmlEscaping().create()
                .toJson(root);
        AtomicFiles.writeString(file, json + "\n");
    }

    private static JsonObject byteLevel(boolean decoder) {
        JsonObject o = new JsonObject();
        o.addProperty("type", "ByteLevel");
        o.addProperty("add_prefix_space", decoder);
        o.addProperty("trim_offsets", true);
        o.addProperty("use_regex", true);
        return o;
    }

    private static JsonArray template(String bosToken, String seq) {
        JsonArray a = new JsonArray();
        JsonObject special = new JsonObject();
        JsonObject sp = new JsonObject();
        sp.addProperty("id", bosToken);
        sp.addProperty("type_id", 0);
        special.add("SpecialToken", sp);
        a.add(special);
        JsonObject sequence = new JsonObject();
        JsonObject sq = new JsonObject();
        sq.addProperty("id", seq);
        sq.addProperty("type_id", 0);
        sequence.add("Sequence", sq);
        a.add(sequence);
        return a;
    }
}
