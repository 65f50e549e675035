package org.peft4j.data;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

/**
 * Checks a {@code tokenizer.json} against the schema the Rust tokenizers crate (0.21, run by DJL) deserialises,
 * before the file reaches native code: parts of that crate panic instead of returning an error (a decoder or a
 * {@code Precompiled} normalizer it cannot read, a template naming a special token it does not define, a padding
 * multiple of 0), and a panic inside the native library aborts the whole JVM. Every component's {@code type} must be
 * one the crate knows, every field it reads has the JSON type it expects, integers are within {@code u32} (ids) or
 * {@code 0..2^31-1} (lengths), and the cross-references that the crate indexes without a check are present.
 * Fields the crate ignores are ignored. A violation is an {@link IllegalArgumentException} naming the file and the
 * field (e.g. {@code decoder.decoders[0].start}).
 */
final class TokenizerJsonCheck {
    private static final BigDecimal U32_MAX = BigDecimal.valueOf(0xFFFF_FFFFL);
    private static final BigDecimal LEN_MAX = BigDecimal.valueOf(Integer.MAX_VALUE);
    private static final Set<String> SPLIT_BEHAVIOURS = Set.of("Removed", "Isolated", "MergedWithPrevious",
            "MergedWithNext", "Contiguous");
    private static final Set<String> PREPEND_SCHEMES = Set.of("first", "never", "always");

    private final Path file;

    private TokenizerJsonCheck(Path file) {
        this.file = file;
    }

    /** Checks {@code json} (the parsed {@code file}); null stands for a file that is not a JSON object. */
    static void check(Path file, JsonObject json) {
        TokenizerJsonCheck c = new TokenizerJsonCheck(file);
        if (json == null) {
            throw c.bad("(top level)", "expected a JSON object");
        }
        c.run(json);
    }

    private void run(JsonObject root) {
        optionalObject(root, "truncation", "truncation", t -> {
            enumOf(t, "direction", "truncation.direction", Set.of("Left", "Right"), false);
            enumOf(t, "strategy", "truncation.strategy", Set.of("LongestFirst", "OnlyFirst", "OnlySecond"), false);
            length(t, "max_length", "truncation.max_length", true);
            length(t, "stride", "truncation.stride", false);
        });
        optionalObject(root, "padding", "padding", p -> {
            JsonElement s = p.get("strategy");
            if (s != null && !(s.isJsonPrimitive() && "BatchLongest".equals(s.getAsString()))) {
                if (!s.isJsonObject() || !s.getAsJsonObject().has("Fixed") || s.getAsJsonObject().size() != 1) {
                    throw bad("padding.strategy", "expected \"BatchLongest\" or {\"Fixed\": length}");
                }
                length(s.getAsJsonObject(), "Fixed", "padding.strategy.Fixed", true);
            }
            enumOf(p, "direction", "padding.direction", Set.of("Left", "Right"), false);
            JsonElement m = p.get("pad_to_multiple_of");
            if (m != null && !m.isJsonNull()) {
                if (length(p, "pad_to_multiple_of", "padding.pad_to_multiple_of", true) == 0) {
                    throw bad("padding.pad_to_multiple_of", "must be at least 1 or null");
                }
            }
            u32(p, "pad_id", "padding.pad_id", false);
            u32(p, "pad_type_id", "padding.pad_type_id", false);
            string(p, "pad_token", "padding.pad_token", false);
        });
        JsonElement added = root.get("added_tokens");
        if (added != null && !added.isJsonNull()) {
            JsonArray a = array(added, "added_tokens");
            for (int i = 0; i < a.size(); i++) {
                String f = "added_tokens[" + i + "]";
                JsonObject t = object(a.get(i), f);
                u32(t, "id", f + ".id", true);
                string(t, "content", f + ".content", true);
                for (String b : new String[] {"single_word", "lstrip", "rstrip", "normalized", "special"}) {
                    bool(t, b, f + "." + b, false);
                }
            }
        }
        optionalObject(root, "normalizer", "normalizer", n -> normalizer(n, "normalizer"));
        optionalObject(root, "pre_tokenizer", "pre_tokenizer", p -> preTokenizer(p, "pre_tokenizer"));
        optionalObject(root, "post_processor", "post_processor", p -> postProcessor(p, "post_processor"));
        optionalObject(root, "decoder", "decoder", d -> decoder(d, "decoder"));
        JsonElement model = root.get("model");
        if (model == null || model.isJsonNull()) {
            throw bad("model", "missing");
        }
        model(object(model, "model"), "model");
    }

    // ---------------------------------------------------------------- components

    private void normalizer(JsonObject n, String f) {
        switch (type(n, f, Set.of("BertNormalizer", "Strip", "StripAccents", "NFC", "NFD", "NFKC", "NFKD", "Sequence",
                "Lowercase", "Nmt", "Precompiled", "Replace", "Prepend", "ByteLevel"))) {
            case "BertNormalizer":
                bool(n, "clean_text", f + ".clean_text", false);
                bool(n, "handle_chinese_chars", f + ".handle_chinese_chars", false);
                optionalBool(n, "strip_accents", f + ".strip_accents");
                bool(n, "lowercase", f + ".lowercase", false);
                break;
            case "Strip":
                bool(n, "strip_left", f + ".strip_left", false);
                bool(n, "strip_right", f + ".strip_right", false);
                break;
            case "Sequence": {
                JsonArray a = array(required(n, "normalizers", f), f + ".normalizers");
                for (int i = 0; i < a.size(); i++) {
                    normalizer(object(a.get(i), f + ".normalizers[" + i + "]"), f + ".normalizers[" + i + "]");
                }
                break;
            }
            case "Precompiled":
                precompiledCharsmap(n, f + ".precompiled_charsmap");
                break;
            case "Replace":
                pattern(n, f);
                string(n, "content", f + ".content", true);
                break;
            case "Prepend":
                string(n, "prepend", f + ".prepend", true);
                break;
            default:
                break;
        }
    }

    private void preTokenizer(JsonObject p, String f) {
        switch (type(p, f, Set.of("BertPreTokenizer", "ByteLevel", "CharDelimiterSplit", "Metaspace", "Whitespace",
                "Sequence", "Split", "Punctuation", "WhitespaceSplit", "Digits", "UnicodeScripts", "FixedLength"))) {
            case "ByteLevel":
                byteLevel(p, f);
                break;
            case "CharDelimiterSplit":
                character(p, "delimiter", f + ".delimiter", true);
                break;
            case "Metaspace":
                metaspace(p, f);
                break;
            case "Sequence": {
                JsonArray a = array(required(p, "pretokenizers", f), f + ".pretokenizers");
                for (int i = 0; i < a.size(); i++) {
                    preTokenizer(object(a.get(i), f + ".pretokenizers[" + i + "]"), f + ".pretokenizers[" + i + "]");
                }
                break;
            }
            case "Split":
                pattern(p, f);
                enumOf(p, "behavior", f + ".behavior", SPLIT_BEHAVIOURS, true);
                bool(p, "invert", f + ".invert", true);
                break;
            case "Punctuation":
                enumOf(p, "behavior", f + ".behavior", SPLIT_BEHAVIOURS, false);
                break;
            case "Digits":
                bool(p, "individual_digits", f + ".individual_digits", false);
                break;
            case "FixedLength":
                if (length(p, "length", f + ".length", false) == 0 && p.has("length")) {
                    throw bad(f + ".length", "must be at least 1");
                }
                break;
            default:
                break;
        }
    }

    private void postProcessor(JsonObject p, String f) {
        switch (type(p, f, Set.of("RobertaProcessing", "BertProcessing", "ByteLevel", "TemplateProcessing",
                "Sequence"))) {
            case "RobertaProcessing":
                tokenAndId(p, "sep", f);
                tokenAndId(p, "cls", f);
                bool(p, "trim_offsets", f + ".trim_offsets", false);
                bool(p, "add_prefix_space", f + ".add_prefix_space", false);
                break;
            case "BertProcessing":
                tokenAndId(p, "sep", f);
                tokenAndId(p, "cls", f);
                break;
            case "ByteLevel":
                byteLevel(p, f);
                break;
            case "TemplateProcessing":
                template(p, f);
                break;
            case "Sequence": {
                JsonArray a = array(required(p, "processors", f), f + ".processors");
                for (int i = 0; i < a.size(); i++) {
                    postProcessor(object(a.get(i), f + ".processors[" + i + "]"), f + ".processors[" + i + "]");
                }
                break;
            }
            default:
                break;
        }
    }

    private void decoder(JsonObject d, String f) {
        switch (type(d, f, Set.of("BPEDecoder", "ByteLevel", "WordPiece", "Metaspace", "CTC", "Sequence", "Replace",
                "Fuse", "Strip", "ByteFallback"))) {
            case "BPEDecoder":
                string(d, "suffix", f + ".suffix", false);
                break;
            case "ByteLevel":
                byteLevel(d, f);
                break;
            case "WordPiece":
                string(d, "prefix", f + ".prefix", false);
                bool(d, "cleanup", f + ".cleanup", false);
                break;
            case "Metaspace":
                metaspace(d, f);
                break;
            case "CTC":
                string(d, "pad_token", f + ".pad_token", false);
                string(d, "word_delimiter_token", f + ".word_delimiter_token", false);
                bool(d, "cleanup", f + ".cleanup", false);
                break;
            case "Sequence": {
                JsonArray a = array(required(d, "decoders", f), f + ".decoders");
                for (int i = 0; i < a.size(); i++) {
                    decoder(object(a.get(i), f + ".decoders[" + i + "]"), f + ".decoders[" + i + "]");
                }
                break;
            }
            case "Replace":
                pattern(d, f);
                string(d, "content", f + ".content", true);
                break;
            case "Strip":
                character(d, "content", f + ".content", true);
                length(d, "start", f + ".start", true);
                if (length(d, "stop", f + ".stop", true) != 0) {
                    // Strip.decode_chain computes chars.len() - i - 1 for i < stop and slices [start_cut..stop_cut]
                    // unchecked: a token shorter than stop, or made only of content, panics in the crate
                    throw bad(f + ".stop", "only 0 is supported: the tokenizers library (0.21) aborts the JVM "
                            + "decoding a token shorter than stop; got " + d.get("stop"));
                }
                break;
            default:
                break;
        }
    }

    /**
     * The crate builds each merge's token as {@code a + b[prefix.len()..]} (byte slicing), which panics when the
     * second part is shorter than {@code continuing_subword_prefix} or the cut falls inside a character.
     */
    private void mergesFitThePrefix(JsonObject m, JsonArray merges, String f) {
        JsonElement prefix = m.get("continuing_subword_prefix");
        if (prefix == null || prefix.isJsonNull()) {
            return;
        }
        int cut = prefix.getAsString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        for (int i = 0; i < merges.size(); i++) {
            JsonElement e = merges.get(i);
            String b;
            if (e.isJsonArray()) {
                b = e.getAsJsonArray().get(1).getAsString();
            } else {
                String s = e.getAsString();
                int space = s.indexOf(' ');
                b = space < 0 ? "" : s.substring(space + 1);
            }
            byte[] bytes = b.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            if (bytes.length < cut || (cut < bytes.length && (bytes[cut] & 0xC0) == 0x80)) {
                throw bad(f + ".merges[" + i + "]", "the second token must be at least as long as "
                        + f + ".continuing_subword_prefix (" + cut + " bytes, cut at a character boundary)");
            }
        }
    }

    private void model(JsonObject m, String f) {
        JsonElement t = m.get("type");
        String type;
        if (t == null) {
            // a file written before models were tagged: the crate tries each in turn
            JsonElement v = m.get("vocab");
            type = v != null && v.isJsonArray() ? "Unigram" : m.has("merges") ? "BPE"
                    : m.has("max_input_chars_per_word") ? "WordPiece" : "WordLevel";
        } else {
            type = type(m, f, Set.of("BPE", "WordPiece", "WordLevel", "Unigram"));
        }
        switch (type) {
            case "BPE": {
                vocab(m, f);
                JsonArray merges = array(required(m, "merges", f), f + ".merges");
                for (int i = 0; i < merges.size(); i++) {
                    JsonElement e = merges.get(i);
                    String g = f + ".merges[" + i + "]";
                    if (e.isJsonArray()) {
                        JsonArray pair = e.getAsJsonArray();
                        if (pair.size() != 2 || !isString(pair.get(0)) || !isString(pair.get(1))) {
                            throw bad(g, "expected a pair of strings");
                        }
                    } else if (!isString(e)) {
                        throw bad(g, "expected \"a b\" or [\"a\", \"b\"]");
                    }
                }
                JsonElement dropout = m.get("dropout");
                if (dropout != null && !dropout.isJsonNull()) {
                    double p = number(dropout, f + ".dropout").doubleValue();
                    if (!(p >= 0 && p <= 1)) {
                        throw bad(f + ".dropout", "must be between 0 and 1, got " + dropout);
                    }
                }
                optionalString(m, "unk_token", f + ".unk_token");
                optionalString(m, "continuing_subword_prefix", f + ".continuing_subword_prefix");
                mergesFitThePrefix(m, merges, f);
                optionalString(m, "end_of_word_suffix", f + ".end_of_word_suffix");
                optionalBool(m, "fuse_unk", f + ".fuse_unk");
                optionalBool(m, "byte_fallback", f + ".byte_fallback");
                optionalBool(m, "ignore_merges", f + ".ignore_merges");
                break;
            }
            case "WordPiece":
                vocab(m, f);
                string(m, "unk_token", f + ".unk_token", false);
                string(m, "continuing_subword_prefix", f + ".continuing_subword_prefix", false);
                length(m, "max_input_chars_per_word", f + ".max_input_chars_per_word", false);
                break;
            case "WordLevel":
                vocab(m, f);
                string(m, "unk_token", f + ".unk_token", false);
                break;
            default: { // Unigram
                JsonArray v = array(required(m, "vocab", f), f + ".vocab");
                for (int i = 0; i < v.size(); i++) {
                    String g = f + ".vocab[" + i + "]";
                    JsonArray e = array(v.get(i), g);
                    if (e.size() != 2 || !isString(e.get(0))) {
                        throw bad(g, "expected [piece, score]");
                    }
                    double s = number(e.get(1), g + "[1]").doubleValue();
                    if (!Double.isFinite(s)) {
                        throw bad(g + "[1]", "expected a finite score");
                    }
                }
                JsonElement unk = m.get("unk_id");
                if (unk != null && !unk.isJsonNull()) {
                    long id = length(m, "unk_id", f + ".unk_id", true);
                    if (id >= v.size()) {
                        throw bad(f + ".unk_id", id + " is not an index of the vocabulary (" + v.size() + " pieces)");
                    }
                }
                bool(m, "byte_fallback", f + ".byte_fallback", false);
                break;
            }
        }
    }

    // ---------------------------------------------------------------- shared parts

    private void byteLevel(JsonObject o, String f) {
        bool(o, "add_prefix_space", f + ".add_prefix_space", false);
        bool(o, "trim_offsets", f + ".trim_offsets", false);
        bool(o, "use_regex", f + ".use_regex", false);
    }

    private void metaspace(JsonObject o, String f) {
        character(o, "replacement", f + ".replacement", false);
        enumOf(o, "prepend_scheme", f + ".prepend_scheme", PREPEND_SCHEMES, false);
        bool(o, "split", f + ".split", false);
        bool(o, "add_prefix_space", f + ".add_prefix_space", false);
        string(o, "str_rep", f + ".str_rep", false);
    }

    /** {@code "pattern": {"String": s} or {"Regex": s}}; a regex the crate cannot compile is its own error. */
    private void pattern(JsonObject o, String f) {
        JsonObject p = object(required(o, "pattern", f), f + ".pattern");
        if (p.size() != 1 || !(p.has("String") || p.has("Regex"))) {
            throw bad(f + ".pattern", "expected {\"String\": text} or {\"Regex\": pattern}");
        }
        String k = p.has("String") ? "String" : "Regex";
        string(p, k, f + ".pattern." + k, true);
    }

    private void tokenAndId(JsonObject o, String name, String f) {
        JsonArray a = array(required(o, name, f), f + "." + name);
        if (a.size() != 2 || !isString(a.get(0))) {
            throw bad(f + "." + name, "expected [token, id]");
        }
        u32(a.get(1), f + "." + name + "[1]");
    }

    private void template(JsonObject p, String f) {
        JsonObject specials = object(required(p, "special_tokens", f), f + ".special_tokens");
        for (Map.Entry<String, JsonElement> e : specials.entrySet()) {
            String g = f + ".special_tokens." + e.getKey();
            JsonObject s = object(e.getValue(), g);
            String id = string(s, "id", g + ".id", true);
            if (!id.equals(e.getKey())) {
                throw bad(g + ".id", "'" + id + "' differs from its key");
            }
            JsonArray ids = array(required(s, "ids", g), g + ".ids");
            JsonArray tokens = array(required(s, "tokens", g), g + ".tokens");
            for (int i = 0; i < ids.size(); i++) {
                u32(ids.get(i), g + ".ids[" + i + "]");
            }
            for (int i = 0; i < tokens.size(); i++) {
                if (!isString(tokens.get(i))) {
                    throw bad(g + ".tokens[" + i + "]", "expected a string");
                }
            }
            if (ids.size() != tokens.size()) {
                throw bad(g, ids.size() + " ids but " + tokens.size() + " tokens");
            }
        }
        for (String which : new String[] {"single", "pair"}) {
            JsonArray pieces = array(required(p, which, f), f + "." + which);
            for (int i = 0; i < pieces.size(); i++) {
                String g = f + "." + which + "[" + i + "]";
                JsonObject piece = object(pieces.get(i), g);
                if (piece.size() != 1 || !(piece.has("Sequence") || piece.has("SpecialToken"))) {
                    throw bad(g, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
                }
                boolean seq = piece.has("Sequence");
                String k = seq ? "Sequence" : "SpecialToken";
                JsonObject body = object(piece.get(k), g + "." + k);
                u32(body, "type_id", g + "." + k + ".type_id", true);
                if (seq) {
                    enumOf(body, "id", g + ".Sequence.id", Set.of("A", "B"), true);
                } else {
                    String id = string(body, "id", g + ".SpecialToken.id", true);
                    if (!specials.has(id)) {
                        throw bad(g + ".SpecialToken.id", "'" + id + "' is not in " + f + ".special_tokens");
                    }
                }
            }
        }
    }

    private void vocab(JsonObject m, String f) {
        JsonObject v = object(required(m, "vocab", f), f + ".vocab");
        for (Map.Entry<String, JsonElement> e : v.entrySet()) {
            u32(e.getValue(), f + ".vocab." + e.getKey());
        }
    }

    /** The base64 {@code precompiled_charsmap}: a little-endian u32 trie size, the trie, then the normalized text. */
    private void precompiledCharsmap(JsonObject n, String f) {
        JsonElement e = n.get("precompiled_charsmap");
        if (e == null || e.isJsonNull()) {
            throw bad(f, "missing");
        }
        String text = string(n, "precompiled_charsmap", f, true);
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException x) {
            throw bad(f, "not base64: " + x.getMessage());
        }
        if (bytes.length < 4) {
            throw bad(f, "shorter than its 4-byte header");
        }
        long trieSize = (bytes[0] & 0xFFL) | (bytes[1] & 0xFFL) << 8 | (bytes[2] & 0xFFL) << 16
                | (bytes[3] & 0xFFL) << 24;
        if (trieSize % 4 != 0 || trieSize > bytes.length - 4L) {
            throw bad(f, "trie size " + trieSize + " does not fit the " + bytes.length + " bytes");
        }
    }

    // ---------------------------------------------------------------- typed fields

    private interface Body {
        void check(JsonObject o);
    }

    private void optionalObject(JsonObject parent, String name, String f, Body body) {
        JsonElement e = parent.get(name);
        if (e != null && !e.isJsonNull()) {
            body.check(object(e, f));
        }
    }

    private String type(JsonObject o, String f, Set<String> known) {
        JsonElement t = o.get("type");
        if (t == null) {
            throw bad(f + ".type", "missing");
        }
        if (!isString(t) || !known.contains(t.getAsString())) {
            throw bad(f + ".type", "unknown type " + t + "; known: " + new java.util.TreeSet<>(known));
        }
        return t.getAsString();
    }

    private JsonElement required(JsonObject o, String name, String f) {
        JsonElement e = o.get(name);
        if (e == null || e.isJsonNull()) {
            throw bad(f + "." + name, "missing");
        }
        return e;
    }

    private JsonObject object(JsonElement e, String f) {
        if (e == null || !e.isJsonObject()) {
            throw bad(f, "expected an object, got " + shortly(e));
        }
        return e.getAsJsonObject();
    }

    private JsonArray array(JsonElement e, String f) {
        if (e == null || !e.isJsonArray()) {
            throw bad(f, "expected an array, got " + shortly(e));
        }
        return e.getAsJsonArray();
    }

    private static boolean isString(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
    }

    private String string(JsonObject o, String name, String f, boolean required) {
        JsonElement e = required ? required(o, name, f.substring(0, Math.max(0, f.lastIndexOf('.')))) : o.get(name);
        if (e == null) {
            return null;
        }
        if (!isString(e)) {
            throw bad(f, "expected a string, got " + shortly(e));
        }
        return e.getAsString();
    }

    private void optionalString(JsonObject o, String name, String f) {
        JsonElement e = o.get(name);
        if (e != null && !e.isJsonNull()) {
            string(o, name, f, false);
        }
    }

    private void character(JsonObject o, String name, String f, boolean required) {
        String s = string(o, name, f, required);
        if (s != null && s.codePointCount(0, s.length()) != 1) {
            throw bad(f, "expected a single character, got " + shortly(o.get(name)));
        }
    }

    private void enumOf(JsonObject o, String name, String f, Set<String> values, boolean required) {
        String s = string(o, name, f, required);
        if (s != null && !values.contains(s)) {
            throw bad(f, "unknown value '" + s + "'; known: " + new java.util.TreeSet<>(values));
        }
    }

    private void bool(JsonObject o, String name, String f, boolean required) {
        JsonElement e = required ? required(o, name, f.substring(0, Math.max(0, f.lastIndexOf('.')))) : o.get(name);
        if (e != null && !(e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean())) {
            throw bad(f, "expected true or false, got " + shortly(e));
        }
    }

    private void optionalBool(JsonObject o, String name, String f) {
        JsonElement e = o.get(name);
        if (e != null && !e.isJsonNull()) {
            bool(o, name, f, false);
        }
    }

    private BigDecimal number(JsonElement e, String f) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw bad(f, "expected a number, got " + shortly(e));
        }
        try {
            return new BigDecimal(e.getAsJsonPrimitive().getAsString());
        } catch (NumberFormatException x) {
            throw bad(f, "not a number: " + shortly(e));
        }
    }

    private long integer(JsonElement e, String f, BigDecimal max) {
        BigDecimal d = number(e, f);
        if (d.signum() < 0 || d.compareTo(max) > 0 || d.stripTrailingZeros().scale() > 0) {
            throw bad(f, "expected an integer from 0 to " + max.toPlainString() + ", got " + shortly(e));
        }
        return d.longValueExact();
    }

    private void u32(JsonElement e, String f) {
        integer(e, f, U32_MAX);
    }

    private void u32(JsonObject o, String name, String f, boolean required) {
        JsonElement e = required ? required(o, name, f.substring(0, Math.max(0, f.lastIndexOf('.')))) : o.get(name);
        if (e != null) {
            u32(e, f);
        }
    }

    private long length(JsonObject o, String name, String f, boolean required) {
        JsonElement e = required ? required(o, name, f.substring(0, Math.max(0, f.lastIndexOf('.')))) : o.get(name);
        return e == null ? 0 : integer(e, f, LEN_MAX);
    }

    private static String shortly(JsonElement e) {
        String s = String.valueOf(e);
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    private IllegalArgumentException bad(String field, String what) {
        return new IllegalArgumentException(file + ": `" + field + "`: " + what);
    }
}
