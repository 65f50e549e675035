package org.peft4j.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json}, run by the Rust tokenizers library through DJL (its native library
 * is bundled in the DJL jar and extracted on first use). Loads only local files, never downloads. Special
 * tokens come from {@code tokenizer_config.json} and {@code special_tokens_map.json}, else from the
 * {@code <token>_id} entries of {@code config.json} and {@code generation_config.json} (the first id of a list).
 * Close it to free the native tokenizer.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    /**
     * DJL's switches that keep a tokenizer load off the network (its telemetry call and its native-library download
     * fallback). DJL reads them only as JVM-wide system properties (or environment variables) on each
     * {@code newInstance}, with no per-tokenizer option.
     */
    private static final List<String> DJL_OFFLINE_PROPERTIES = List.of("ai.djl.offline", "OPT_OUT_TRACKING");

    private HuggingFaceTokenizer tokenizer;
    private final Path folder;
    private final int vocabSize;
    private final Long bos;
    private final Long eos;
    private final List<Long> eosIds;
    private final Long pad;
    /** Ids of added tokens that split the text into independently tokenised segments; null when unsafe. */
    private final java.util.Set<Long> segmentBoundaryIds;

    private final String chatTemplate;
    private final Path chatTemplateFile;

    /** Reads and checks the JSON files of {@code folder}; the native tokenizer is created after, by load. */
    private HfTokenizer(Path folder, JsonObject json) {
        this.folder = folder;
        Map<String, Long> vocab = TokenizerFiles.vocabulary(json, folder.resolve("tokenizer.json"));
        this.vocabSize = (int) (vocab.values().stream().mapToLong(Long::longValue).max().orElse(-1) + 1);
        this.bos = TokenizerFiles.specialTokenId(folder, "bos_token", vocab);
        this.eos = TokenizerFiles.specialTokenId(folder, "eos_token", vocab);
        this.eosIds = TokenizerFiles.eosTokenIds(folder, eos);
        this.pad = TokenizerFiles.specialTokenId(folder, "pad_token", vocab);
        this.segmentBoundaryIds = TokenizerFiles.segmentBoundaryIds(json);
        this.chatTemplate = TokenizerFiles.chatTemplate(folder);
        this.chatTemplateFile = TokenizerFiles.chatTemplateFile(folder);
    }

    /**
     * The ids of the added tokens after which the text is tokenised independently of what precedes it: the
     * tokenizers library splits the input at added tokens before normalising and pre-tokenising each piece, so
     * {@code encode(text[0, p))} is the tokens of {@code text} up to such a token followed by the tokens of the
     * rest of the prefix. Null when this tokenizer's files make that unsafe (a {@code single_word} or
     * {@code rstrip} added token, a Metaspace pre-tokenizer that prepends only to the first piece, BPE dropout).
     */
    java.util.Set<Long> segmentBoundaryIds() {
        return segmentBoundaryIds;
    }

    /**
     * Loads a tokenizer from a folder holding {@code tokenizer.json} (or from that file itself), with its
     * {@code tokenizer_config.json}, {@code special_tokens_map.json}, {@code config.json} and
     * {@code generation_config.json} when present. Every file is read and checked here (strict JSON; special
     * tokens, token ids and the chat template of the expected types and ranges), so a bad file fails the load, not
     * a later call.
     *
     * @throws org.peft4j.FileAccessException when a file is missing or unreadable
     * @throws org.peft4j.InvalidInputException when a file is malformed or holds a bad value; the message names the
     *     file and the field (also when tokenizer.json is not what the Rust tokenizers library reads: checked in
     *     Java first, because some bad files make the native library abort the JVM)
     */
    public static HfTokenizer load(Path path) {
        Path folder = TokenizerFiles.folder(path);
        Path file = folder.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw org.peft4j.FileAccessException.of("read", file,
                    new java.nio.file.NoSuchFileException(file.toString(), null, "no tokenizer.json in " + folder));
        }
        JsonObject json = TokenizerFiles.readObject(file);
        try {
            TokenizerJsonCheck.check(file, json); // before native code, which aborts the JVM on some bad files
        } catch (IllegalArgumentException e) {
            // the check names the field in backquotes: `normalizer.normalizers[1].precompiled_charsmap`
            java.util.regex.Matcher field = java.util.regex.Pattern.compile("`([^`]+)`").matcher(e.getMessage());
            throw new org.peft4j.InvalidInputException(e.getMessage(), file, field.find() ? field.group(1) : null, e);
        }
        HfTokenizer t = new HfTokenizer(folder, json);
        Map<String, String> options = Map.of(
                "addSpecialTokens", "false",
                "truncation", "false",
                "padding", "false",
                "maxLength", "-1");
        try {
            t.tokenizer = newOfflineInstance(file, options);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("load", file, e);
        } catch (RuntimeException e) {
            // the tokenizers library's own errors (serde: "unknown variant ... at line 1 column 123")
            throw new org.peft4j.InvalidInputException(file + ": the tokenizers library refused it: "
                    + e.getMessage(), file, null, e);
        }
        return t;
    }

    /**
     * Loads the native tokenizer with DJL offline and without telemetry, scoped to this call: a switch the host
     * application has not set (neither property nor environment variable) is set to {@code true} for the load
     * only and removed afterwards, so the host's own DJL use is unchanged. Loads are serialised on a lock; another
     * thread of the host reading those properties during a load would see them set.
     */
    static HuggingFaceTokenizer newOfflineInstance(Path file, Map<String, String> options) throws IOException {
        synchronized (DJL_OFFLINE_PROPERTIES) {
            List<String> setHere = new ArrayList<>();
            for (String key : DJL_OFFLINE_PROPERTIES) {
                if (System.getProperty(key) == null && System.getenv(key) == null) {
                    System.setProperty(key, "true");
                    setHere.add(key);
                }
            }
            try {
                return HuggingFaceTokenizer.newInstance(file, options);
            } finally {
                setHere.forEach(System::clearProperty);
            }
        }
    }

    /** The folder the tokenizer was loaded from (where its chat template is looked up). */
    public Path folder() {
        return folder;
    }

    /** The chat template of this tokenizer's files, or null when it has none. */
    public ChatTemplate chatTemplate() {
        return chatTemplate == null ? null
                : new JinjaChatTemplate(chatTemplate, bosToken(), eosToken(),
                        "the chat template of " + chatTemplateFile);
    }

    @Override
    public long[] encode(String text, boolean addSpecialTokens) {
        return tokenizer.encode(text, addSpecialTokens, false).getIds();
    }

    @Override
    public TokenizedText encodeWithOffsets(String text) {
        Encoding e = tokenizer.encode(text, false, false);
        CharSpan[] spans = e.getCharTokenSpans();
        long[] ids = e.getIds();
        int[] start = new int[ids.length];
        int[] end = new int[ids.length];
        // the native offsets count code points; TokenizedText counts UTF-16 chars
        int[] charOfCodePoint = new int[text.codePointCount(0, text.length()) + 1];
        for (int cp = 0, c = 0; cp < charOfCodePoint.length; cp++) {
            charOfCodePoint[cp] = c;
            if (c < text.length()) {
                c += Character.charCount(text.codePointAt(c));
            }
        }
        for (int i = 0; i < ids.length; i++) {
            start[i] = spans[i] == null ? 0 : charOfCodePoint[spans[i].getStart()];
            end[i] = spans[i] == null ? 0 : charOfCodePoint[spans[i].getEnd()];
        }
        return new TokenizedText(ids, start, end);
    }

    @Override
    public String decode(long[] ids) {
        return tokenizer.decode(ids, false);
    }

    /** The tokenizers library's {@code decode(ids, skip_special_tokens)}. */
    @Override
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
    }

    @Override
    public Long bosTokenId() {
        return bos;
    }

    @Override
    public Long eosTokenId() {
        return eos;
    }

    /**
     * The tokenizer's eos id, then every other id of {@code eos_token_id} in config.json and generation_config.json
     * (Llama 3 lists end-of-text, end-of-message and end-of-turn).
     */
    @Override
    public List<Long> eosTokenIds() {
        return eosIds;
    }

    @Override
    public Long padTokenId() {
        return pad;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
