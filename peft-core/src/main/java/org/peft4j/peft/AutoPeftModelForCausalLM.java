package org.peft4j.peft;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.peft4j.Peft4jException;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.Message;
import org.peft4j.data.Tokenizer;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.hub.HfHub;
import org.peft4j.internal.StrictGson;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.QuantizationConfig;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.tensor.DType;

/**
 * PEFT's {@code AutoPeftModelForCausalLM}: a saved adapter folder, its base model (named by
 * {@code adapter_config.json}'s {@code base_model_name_or_path}), its tokenizer and the base's generation settings,
 * ready for text in, text out.
 *
 * <pre>{@code
 * try (AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(Path.of("out/adapter"))) {
 *     String answer = m.generate(List.of(Message.user("What is a stock?")));
 * }
 * }</pre>
 *
 * <p>The tokenizer comes from the adapter folder when it holds tokenizer files ({@code tokenizer.json} or
 * {@code tokenizer.model}), else from the base model's folder, as PEFT does. The generation settings are the base
 * folder's {@code generation_config.json} ({@link GenerationConfig#fromPretrained}), as transformers'
 * {@code model.generation_config}; when they name no eos id, the tokenizer's eos ids end a sequence.
 */
public final class AutoPeftModelForCausalLM implements AutoCloseable {
    private final PeftModel model;
    private final Tokenizer tokenizer;
    private GenerationConfig generationConfig;

    private AutoPeftModelForCausalLM(PeftModel model, Tokenizer tokenizer, GenerationConfig generationConfig) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.generationConfig = generationConfig;
    }

    /**
     * Loads the adapter in {@code adapterDir} for inference, with its base model and tokenizer.
     *
     * @param adapterDir a folder written by {@link PeftModel#savePretrained(Path)}
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when {@code base_model_name_or_path} is missing or names no local model folder
     */
    public static AutoPeftModelForCausalLM fromPretrained(Path adapterDir) {
        return fromPretrained(adapterDir, "default", false);
    }

    /**
     * Loads the adapter in {@code adapterDir} under {@code adapterName}, with its base model and tokenizer.
     *
     * @param adapterDir a folder written by {@link PeftModel#savePretrained(Path)}
     * @param adapterName the name the adapter gets
     * @param isTrainable whether the adapter's weights are trainable (PEFT's {@code is_trainable})
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when {@code base_model_name_or_path} is missing or names no local model folder
     */
    public static AutoPeftModelForCausalLM fromPretrained(Path adapterDir, String adapterName, boolean isTrainable) {
        return fromPretrained(adapterDir, adapterName, isTrainable, new HfHub());
    }

    /**
     * PEFT's {@code AutoPeftModelForCausalLM.from_pretrained("org/adapter")}: an existing local folder, else a
     * Hugging Face repo id (optionally {@code id@revision}) resolved through the local cache and downloaded when
     * allowed ({@link HfHub#resolveAdapter}).
     *
     * @param adapterIdOrPath a local adapter folder or a repo id
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when the adapter or its base model cannot be found
     */
    public static AutoPeftModelForCausalLM fromPretrained(String adapterIdOrPath) {
        return fromPretrained(HfHub.resolveAdapter(adapterIdOrPath), "default", false, new HfHub());
    }

    /**
     * As {@link #fromPretrained(Path, String, boolean)}, with the Hub settings (cache folder, endpoint, token,
     * offline) used when {@code base_model_name_or_path} is a repo id.
     *
     * @param adapterDir a folder written by {@link PeftModel#savePretrained(Path)}
     * @param adapterName the name the adapter gets
     * @param isTrainable whether the adapter's weights are trainable (PEFT's {@code is_trainable})
     * @param hub resolves a repo-id base model
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when {@code base_model_name_or_path} is missing or cannot be resolved
     */
    public static AutoPeftModelForCausalLM fromPretrained(Path adapterDir, String adapterName, boolean isTrainable,
            HfHub hub) {
        return fromPretrained(adapterDir, adapterName, isTrainable, hub, DType.F32, null);
    }

    /**
     * PEFT's {@code AutoPeftModelForCausalLM.from_pretrained(adapter_dir, torch_dtype=...)}: the base model is
     * loaded in {@code dtype}, as {@link AutoModelForCausalLM#fromPretrained(Path, DType)} does (PEFT forwards the
     * keyword to transformers' {@code from_pretrained}).
     *
     * @param adapterDir a folder written by {@link PeftModel#savePretrained(Path)}
     * @param dtype the base model's dtype: {@link DType#F32}, {@link DType#F16} or {@link DType#BF16}
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when {@code base_model_name_or_path} is missing or names no local model folder
     */
    public static AutoPeftModelForCausalLM fromPretrained(Path adapterDir, DType dtype) {
        return fromPretrained(adapterDir, "default", false, new HfHub(), dtype, null);
    }

    /**
     * PEFT's {@code AutoPeftModelForCausalLM.from_pretrained(adapter_dir, torch_dtype=...,
     * quantization_config=...)}: the base model is loaded in {@code dtype} and quantized, as
     * {@link AutoModelForCausalLM#fromPretrained(Path, DType, QuantizationConfig)} does (e.g. a
     * {@code BitsAndBytesConfig} with {@code load_in_4bit} from peft-qlora, found through the
     * {@link QuantizationConfig} SPI), then the adapter is loaded onto it.
     *
     * @param adapterDir a folder written by {@link PeftModel#savePretrained(Path)}
     * @param dtype the base model's dtype (for a 4-bit base: the dtype of the layers left unquantized)
     * @param quantizationConfig the base model's quantization, or null for none
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when {@code base_model_name_or_path} is missing or names no local model folder
     */
    public static AutoPeftModelForCausalLM fromPretrained(Path adapterDir, DType dtype,
            QuantizationConfig quantizationConfig) {
        return fromPretrained(adapterDir, "default", false, new HfHub(), dtype, quantizationConfig);
    }

    /**
     * As {@link #fromPretrained(Path, DType, QuantizationConfig)} for a local adapter folder or a Hugging Face repo
     * id ({@link #fromPretrained(String)}).
     *
     * @param adapterIdOrPath a local adapter folder or a repo id
     * @param dtype the base model's dtype
     * @param quantizationConfig the base model's quantization, or null for none
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when the adapter or its base model cannot be found
     */
    public static AutoPeftModelForCausalLM fromPretrained(String adapterIdOrPath, DType dtype,
            QuantizationConfig quantizationConfig) {
        return fromPretrained(HfHub.resolveAdapter(adapterIdOrPath), "default", false, new HfHub(), dtype,
                quantizationConfig);
    }

    /**
     * The full form: PEFT's {@code AutoPeftModelForCausalLM.from_pretrained(adapter, adapter_name=...,
     * is_trainable=..., torch_dtype=..., quantization_config=...)}, with the Hub settings used when
     * {@code base_model_name_or_path} is a repo id.
     *
     * @param adapterDir a folder written by {@link PeftModel#savePretrained(Path)}
     * @param adapterName the name the adapter gets
     * @param isTrainable whether the adapter's weights are trainable (PEFT's {@code is_trainable})
     * @param hub resolves a repo-id base model
     * @param dtype the base model's dtype (transformers' {@code dtype}, PEFT's {@code torch_dtype}), e.g.
     *     {@link DType#F32}, {@link DType#F16} or {@link DType#BF16}
     * @param quantizationConfig the base model's quantization, or null for none
     * @return the loaded model
     * @throws org.peft4j.FileAccessException when a file cannot be read or does not fit
     * @throws Peft4jException when {@code base_model_name_or_path} is missing or cannot be resolved
     */
    public static AutoPeftModelForCausalLM fromPretrained(Path adapterDir, String adapterName, boolean isTrainable,
            HfHub hub, DType dtype, QuantizationConfig quantizationConfig) {
        try {
            Objects.requireNonNull(dtype, "dtype");
            Path base = resolveBaseModel(adapterDir, baseModelNameOrPath(adapterDir), hub);
            PreTrainedModel baseModel = AutoModelForCausalLM.fromPretrained(base, dtype, quantizationConfig);
            PeftModel peft = PeftModel.fromPretrained(baseModel, adapterDir, adapterName, isTrainable);
            Path tokenizerDir = hasTokenizerFiles(adapterDir) ? adapterDir : base;
            Tokenizer tokenizer = AutoTokenizer.load(tokenizerDir);
            return new AutoPeftModelForCausalLM(peft, tokenizer, GenerationConfig.fromPretrained(base));
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", adapterDir, e);
        }
    }

    /** {@code base_model_name_or_path} of the adapter's config, read before the method's config class is needed. */
    private static String baseModelNameOrPath(Path adapterDir) throws IOException {
        Path file = adapterDir.resolve("adapter_config.json");
        if (!Files.isRegularFile(file)) {
            throw new java.io.FileNotFoundException("no adapter_config.json in " + adapterDir);
        }
        com.google.gson.JsonObject json = StrictGson.parseObject(Files.readString(file, StandardCharsets.UTF_8),
                file.toString());
        com.google.gson.JsonElement e = json.get("base_model_name_or_path");
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new Peft4jException(file + ": 'base_model_name_or_path' must be a string, got " + e);
        }
        return e.getAsString();
    }

    /** A Hugging Face repo id, optionally with {@code @revision}: {@code name} or {@code org/name}. */
    private static final java.util.regex.Pattern REPO_ID = java.util.regex.Pattern.compile(
            "[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?(@[^\\s@]+)?");

    /**
     * The folder of the base model an adapter names: an absolute local model folder, or a Hugging Face repo id
     * ({@code org/name[@revision]}, as PEFT writes it for Hub models) resolved through {@code hub}'s cache. Relative
     * paths are refused (they would depend on the working directory).
     */
    private static Path resolveBaseModel(Path adapterDir, String nameOrPath, HfHub hub) {
        Path configFile = adapterDir.resolve("adapter_config.json");
        if (nameOrPath == null || nameOrPath.isBlank()) {
            throw new Peft4jException(configFile + ": 'base_model_name_or_path' is not set; load the base model with "
                    + "AutoModelForCausalLM.fromPretrained and the adapter with PeftModel.fromPretrained instead");
        }
        Path p = Path.of(nameOrPath);
        if (!p.isAbsolute() && REPO_ID.matcher(nameOrPath).matches() && !nameOrPath.contains("..")) {
            int at = nameOrPath.indexOf('@');
            String id = at < 0 ? nameOrPath : nameOrPath.substring(0, at);
            String revision = at < 0 ? HfHub.DEFAULT_REVISION : nameOrPath.substring(at + 1);
            try {
                return hub.snapshotForModel(id, revision);
            } catch (Peft4jException e) {
                throw new Peft4jException(configFile + ": 'base_model_name_or_path' is \"" + nameOrPath
                        + "\", a Hugging Face repo id that could not be resolved: " + e.getMessage(), e);
            }
        }
        if (!p.isAbsolute()) {
            throw new Peft4jException(configFile + ": 'base_model_name_or_path' is \"" + nameOrPath
                    + "\", which is not an absolute path of a local model folder (a relative path would depend on "
                    + "the working directory); load the base model with AutoModelForCausalLM.fromPretrained and the "
                    + "adapter with PeftModel.fromPretrained instead");
        }
        if (!Files.isRegularFile(p.resolve("config.json"))) {
            throw new Peft4jException(configFile + ": 'base_model_name_or_path' is \"" + nameOrPath
                    + "\", but there is no model folder (with a config.json) there");
        }
        return p;
    }

    private static boolean hasTokenizerFiles(Path dir) {
        return Files.isRegularFile(dir.resolve("tokenizer.json")) || Files.isRegularFile(dir.resolve("tokenizer.model"));
    }

    /** The adapter model (PEFT's {@code PeftModelForCausalLM}). */
    public PeftModel model() {
        return model;
    }

    /** The tokenizer (of the adapter folder, else of the base model). */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The generation settings {@link #generate(String)} uses (transformers' {@code model.generation_config}). */
    public GenerationConfig generationConfig() {
        return generationConfig;
    }

    /**
     * Replaces the default generation settings.
     *
     * @param config the settings
     */
    public void setGenerationConfig(GenerationConfig config) {
        this.generationConfig = Objects.requireNonNull(config, "config");
    }

    /**
     * Continues {@code prompt} (encoded with the tokenizer's special tokens, as transformers' {@code tokenizer(text)})
     * with {@link #generationConfig()}.
     *
     * @param prompt the text
     * @return the new text only, decoded with {@code skip_special_tokens=True}
     */
    public String generate(String prompt) {
        return generate(prompt, generationConfig);
    }

    /**
     * Continues {@code prompt} with {@code config}.
     *
     * @param prompt the text
     * @param config the generation settings
     * @return the new text only, decoded with {@code skip_special_tokens=True}
     */
    public String generate(String prompt, GenerationConfig config) {
        return generateFrom(tokenizer.encode(Objects.requireNonNull(prompt, "prompt")), config);
    }

    /**
     * The assistant's reply to {@code messages}: the chat rendered with the tokenizer's chat template and a
     * generation prompt ({@link Tokenizer#applyChatTemplate}), continued with {@link #generationConfig()}.
     *
     * @param messages the conversation
     * @return the reply, decoded with {@code skip_special_tokens=True}
     */
    public String generate(List<Message> messages) {
        return generate(messages, generationConfig);
    }

    /**
     * The assistant's reply to {@code messages} with {@code config}.
     *
     * @param messages the conversation
     * @param config the generation settings
     * @return the reply, decoded with {@code skip_special_tokens=True}
     */
    public String generate(List<Message> messages, GenerationConfig config) {
        return generateFrom(tokenizer.applyChatTemplate(Objects.requireNonNull(messages, "messages"), true), config);
    }

    private String generateFrom(long[] promptIds, GenerationConfig config) {
        Objects.requireNonNull(config, "config");
        List<Long> eos = config.eosTokenIds().isEmpty() ? tokenizer.eosTokenIds() : config.eosTokenIds();
        GenerationConfig cfg = config;
        if (config.eosTokenIds().isEmpty() && !eos.isEmpty()) {
            cfg = GenerationConfig.builder().maxNewTokens(config.maxNewTokens()).doSample(config.doSample())
                    .temperature(config.temperature()).topK(config.topK()).topP(config.topP())
                    .padTokenId(config.padTokenId()).seed(config.seed()).eosTokenIds(eos).build();
        }
        long[] out = model.generate(new long[][] {promptIds}, null, cfg)[0];
        long[] fresh = Arrays.copyOfRange(out, promptIds.length, out.length);
        List<Long> stop = new ArrayList<>(cfg.eosTokenIds());
        int end = 0;
        while (end < fresh.length && !stop.contains(fresh[end])) {
            end++;
        }
        return tokenizer.decode(Arrays.copyOf(fresh, end), true);
    }

    /** Frees the model's sessions and the tokenizer's native resources. */
    @Override
    public void close() {
        model.close();
        AutoTokenizer.close(tokenizer);
    }
}
