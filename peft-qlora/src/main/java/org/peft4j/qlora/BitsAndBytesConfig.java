package org.peft4j.qlora;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.ConfigException;
import org.peft4j.internal.StrictGson;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.QuantizationConfig;
import org.peft4j.nn.Conv1D;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * transformers' {@code BitsAndBytesConfig} for 4-bit loading: which layers bitsandbytes quantizes, how, and how they
 * compute. Pass it to {@code AutoModelForCausalLM.fromPretrained(dir, config)} to quantize a float checkpoint as it
 * loads; a folder saved in 4 bits (config.json with this {@code quantization_config}) loads quantized by itself.
 *
 * <pre>{@code
 * BitsAndBytesConfig bnb = BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4")
 *         .bnb4bitUseDoubleQuant(true).bnb4bitComputeDtype(DType.BF16).build();
 * PreTrainedModel model = AutoModelForCausalLM.fromPretrained(dir, bnb);
 * }</pre>
 *
 * <p>Defaults are transformers': {@code bnb_4bit_quant_type} "fp4", no double quantization, compute dtype float32,
 * storage uint8, {@code llm_int8_threshold} 6.0. Not supported (refused by name): {@code load_in_8bit} (LLM.int8()),
 * a {@code bnb_4bit_quant_storage} other than uint8. Immutable.
 *
 * <p>Which layers become {@link Linear4bit} (transformers' {@code replace_with_bnb_linear}): every module whose class is
 * exactly {@link Linear} or GPT-2's {@link Conv1D} (whose float weight, stored [in, out], is transposed before it is
 * quantized), except those matched by the modules not to convert. Those are {@code llm_int8_skip_modules}
 * when given (then nothing else: a given list replaces the defaults, so {@code []} quantizes {@code lm_head} too),
 * else transformers' {@code get_keys_to_not_convert}: the output embeddings ({@code lm_head}), tied weights and the
 * module of the last parameter. A name is matched by a pattern from its start up to a module boundary (also as a
 * regular expression), or as a suffix.
 *
 * <p>Immutable and thread-safe; {@link #processModelBeforeWeightLoading} changes the model it is given, not itself.
 */
public final class BitsAndBytesConfig implements QuantizationConfig {
    private static final Logger LOG = LoggerFactory.getLogger(BitsAndBytesConfig.class);
    /** transformers' {@code quant_method} for bitsandbytes. */
    public static final String QUANT_METHOD = "bitsandbytes";
    /** The storage dtypes transformers accepts for {@code bnb_4bit_quant_storage}. */
    static final List<String> STORAGE_NAMES = List.of("float16", "float32", "int8", "uint8", "float64", "bfloat16");
    private static final Set<String> KNOWN_KEYS = Set.of("quant_method", "load_in_4bit", "load_in_8bit",
            "_load_in_4bit", "_load_in_8bit", "llm_int8_threshold", "llm_int8_skip_modules",
            "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight", "bnb_4bit_compute_dtype",
            "bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_quant_storage");
    /** bitsandbytes' {@code Params4bit} blocksize, which transformers leaves at its default. */
    static final int BLOCKSIZE = 64;

    private final boolean loadIn4bit;
    private final boolean loadIn8bit;
    private final double llmInt8Threshold;
    private final List<String> llmInt8SkipModules;
    private final boolean llmInt8EnableFp32CpuOffload;
    private final boolean llmInt8HasFp16Weight;
    private final DType bnb4bitComputeDtype;
    private final QuantType bnb4bitQuantType;
    private final boolean bnb4bitUseDoubleQuant;

    private BitsAndBytesConfig(Builder b) {
        if (b.loadIn4bit && b.loadIn8bit) {
            throw new IllegalArgumentException(
                    "load_in_4bit and load_in_8bit are both True, but only one can be used at the same time");
        }
        if (b.loadIn8bit) {
            throw new IllegalArgumentException("load_in_8bit: 8-bit loading (LLM.int8(), bnb.nn.Linear8bitLt) is not "
                    + "supported by peft4j; use load_in_4bit");
        }
        if (b.skipModules != null) {
            for (String s : b.skipModules) {
                if (s == null) {
                    throw new IllegalArgumentException("llm_int8_skip_modules must be a list of strings");
                }
            }
        }
        if (b.computeDtype == null || !(b.computeDtype == DType.F32 || b.computeDtype == DType.F16
                || b.computeDtype == DType.BF16)) {
            throw new IllegalArgumentException("bnb_4bit_compute_dtype must be float32, float16 or bfloat16, got "
                    + b.computeDtype);
        }
        if (!STORAGE_NAMES.contains(b.quantStorage)) {
            throw new IllegalArgumentException("`bnb_4bit_quant_storage` must be a valid string (one of 'float16', "
                    + "'float32', 'int8', 'uint8', 'float64', 'bfloat16') ");
        }
        if (!b.quantStorage.equals("uint8")) {
            throw new IllegalArgumentException("bnb_4bit_quant_storage '" + b.quantStorage + "' is not supported by "
                    + "peft4j: 4-bit weights are stored packed in uint8 (the default)");
        }
        if (!Double.isFinite(b.threshold)) {
            throw new IllegalArgumentException("llm_int8_threshold must be a float");
        }
        this.loadIn4bit = b.loadIn4bit;
        this.loadIn8bit = b.loadIn8bit;
        this.llmInt8Threshold = b.threshold;
        this.llmInt8SkipModules = b.skipModules == null ? null : Collections.unmodifiableList(new ArrayList<>(
                b.skipModules));
        this.llmInt8EnableFp32CpuOffload = b.fp32CpuOffload;
        this.llmInt8HasFp16Weight = b.hasFp16Weight;
        this.bnb4bitComputeDtype = b.computeDtype;
        this.bnb4bitQuantType = QuantType.fromBnbName(b.quantType);
        this.bnb4bitUseDoubleQuant = b.doubleQuant;
    }

    /** A builder with transformers' defaults (nothing to load in 4 bits until {@code loadIn4bit(true)}). */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.loadIn4bit = loadIn4bit;
        b.loadIn8bit = loadIn8bit;
        b.threshold = llmInt8Threshold;
        b.skipModules = llmInt8SkipModules;
        b.fp32CpuOffload = llmInt8EnableFp32CpuOffload;
        b.hasFp16Weight = llmInt8HasFp16Weight;
        b.computeDtype = bnb4bitComputeDtype;
        b.quantType = bnb4bitQuantType.bnbName();
        b.doubleQuant = bnb4bitUseDoubleQuant;
        return b;
    }

    /** {@code load_in_4bit}. */
    public boolean loadIn4bit() {
        return loadIn4bit;
    }

    /** {@code load_in_8bit} (always false: refused when set). */
    public boolean loadIn8bit() {
        return loadIn8bit;
    }

    /** {@code llm_int8_threshold} (kept for the config file; only LLM.int8() uses it). */
    public double llmInt8Threshold() {
        return llmInt8Threshold;
    }

    /** {@code llm_int8_skip_modules}: modules kept in full precision, or null for transformers' defaults. */
    public List<String> llmInt8SkipModules() {
        return llmInt8SkipModules;
    }

    /** {@code llm_int8_enable_fp32_cpu_offload} (kept for the config file). */
    public boolean llmInt8EnableFp32CpuOffload() {
        return llmInt8EnableFp32CpuOffload;
    }

    /** {@code llm_int8_has_fp16_weight} (kept for the config file). */
    public boolean llmInt8HasFp16Weight() {
        return llmInt8HasFp16Weight;
    }

    /** {@code bnb_4bit_compute_dtype}: the dtype 4-bit layers compute in. */
    public DType bnb4bitComputeDtype() {
        return bnb4bitComputeDtype;
    }

    /** {@code bnb_4bit_quant_type}. */
    public QuantType bnb4bitQuantType() {
        return bnb4bitQuantType;
    }

    /** {@code bnb_4bit_use_double_quant}. */
    public boolean bnb4bitUseDoubleQuant() {
        return bnb4bitUseDoubleQuant;
    }

    /** {@code bnb_4bit_quant_storage}: always uint8. */
    public DType bnb4bitQuantStorage() {
        return DType.U8;
    }

    /** transformers' {@code quantization_method()}: "fp4", "nf4", or null when not loading in 4 bits. */
    public String quantizationMethod() {
        return loadIn4bit ? bnb4bitQuantType.bnbName() : null;
    }

    @Override
    public String quantMethod() {
        return QUANT_METHOD;
    }

    /**
     * The {@code quantization_config} transformers writes into config.json ({@code to_dict()}, keys sorted as
     * {@code save_pretrained} writes them).
     */
    @Override
    public String toJson() {
        return tree().toString();
    }

    private JsonObject tree() {
        JsonObject o = new JsonObject();
        o.addProperty("_load_in_4bit", loadIn4bit);
        o.addProperty("_load_in_8bit", loadIn8bit);
        o.addProperty("bnb_4bit_compute_dtype", torchName(bnb4bitComputeDtype));
        o.addProperty("bnb_4bit_quant_storage", "uint8");
        o.addProperty("bnb_4bit_quant_type", bnb4bitQuantType.bnbName());
        o.addProperty("bnb_4bit_use_double_quant", bnb4bitUseDoubleQuant);
        o.addProperty("llm_int8_enable_fp32_cpu_offload", llmInt8EnableFp32CpuOffload);
        o.addProperty("llm_int8_has_fp16_weight", llmInt8HasFp16Weight);
        if (llmInt8SkipModules == null) {
            o.add("llm_int8_skip_modules", JsonNull.INSTANCE);
        } else {
            JsonArray a = new JsonArray();
            llmInt8SkipModules.forEach(a::add);
            o.add("llm_int8_skip_modules", a);
        }
        o.addProperty("llm_int8_threshold", llmInt8Threshold);
        o.addProperty("load_in_4bit", loadIn4bit);
        o.addProperty("load_in_8bit", loadIn8bit);
        o.addProperty("quant_method", QUANT_METHOD);
        return o;
    }

    /**
     * The config of a config.json's {@code quantization_config} (transformers' {@code BitsAndBytesConfig(**dict)}):
     * {@code load_in_4bit} (or {@code _load_in_4bit}), {@code bnb_4bit_*}, {@code llm_int8_*}; other keys are
     * ignored, as transformers ignores unused kwargs.
     *
     * @param json the JSON text of the {@code quantization_config} object (parsed strictly)
     * @param source where the JSON came from, for messages
     * @return the config
     * @throws ConfigException naming {@code source} if the text is not one strict JSON object, and naming
     *     {@code source} and the field ({@link ConfigException#field()}: {@code quantization_config.<key>}), with
     *     transformers' wording, for a value of the wrong type, and for values peft4j does not support (8-bit,
     *     non-uint8 storage)
     */
    public static BitsAndBytesConfig fromJson(String json, String source) {
        return fromTree(StrictGson.parseObject(json, source), source);
    }

    private static BitsAndBytesConfig fromTree(JsonObject json, String source) {
        Builder b = builder();
        try {
            b.loadIn4bit = bool(json, json.has("load_in_4bit") ? "load_in_4bit" : "_load_in_4bit", false,
                    "load_in_4bit must be a boolean");
            b.loadIn8bit = bool(json, json.has("load_in_8bit") ? "load_in_8bit" : "_load_in_8bit", false,
                    "load_in_8bit must be a boolean");
            b.fp32CpuOffload = bool(json, "llm_int8_enable_fp32_cpu_offload", false,
                    "llm_int8_enable_fp32_cpu_offload must be a boolean");
            b.hasFp16Weight = bool(json, "llm_int8_has_fp16_weight", false,
                    "llm_int8_has_fp16_weight must be a boolean");
            b.doubleQuant = bool(json, "bnb_4bit_use_double_quant", false,
                    "bnb_4bit_use_double_quant must be a boolean");
            JsonElement t = json.get("llm_int8_threshold");
            if (t != null && !t.isJsonNull()) {
                if (!t.isJsonPrimitive() || !t.getAsJsonPrimitive().isNumber()) {
                    throw new IllegalArgumentException("llm_int8_threshold must be a float");
                }
                b.threshold = t.getAsDouble();
            }
            JsonElement s = json.get("llm_int8_skip_modules");
            if (s != null && !s.isJsonNull()) {
                if (!s.isJsonArray()) {
                    throw new IllegalArgumentException("llm_int8_skip_modules must be a list of strings");
                }
                List<String> names = new ArrayList<>();
                for (JsonElement e : s.getAsJsonArray()) {
                    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                        throw new IllegalArgumentException("llm_int8_skip_modules must be a list of strings");
                    }
                    names.add(e.getAsString());
                }
                b.skipModules = names;
            }
            b.quantType = string(json, "bnb_4bit_quant_type", "fp4", "bnb_4bit_quant_type must be a string");
            String cd = string(json, "bnb_4bit_compute_dtype", null,
                    "bnb_4bit_compute_dtype must be a string or a torch.dtype");
            if (cd != null) {
                b.bnb4bitComputeDtype(cd);
            }
            b.quantStorage = string(json, "bnb_4bit_quant_storage", "uint8",
                    "bnb_4bit_quant_storage must be a string or a torch.dtype");
            for (String k : json.keySet()) {
                if (!KNOWN_KEYS.contains(k)) {
                    LOG.info("{}: Unused kwargs: [{}]. These kwargs are not used in BitsAndBytesConfig.", source, k);
                }
            }
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source + ": quantization_config: " + e.getMessage(), fileOf(source),
                    fieldOf(e.getMessage()), e);
        }
    }

    /** {@code quantization_config.<key>} for the key a validation message starts with (as transformers words it). */
    static String fieldOf(String message) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^`?([a-z0-9_]+)`?").matcher(
                message == null ? "" : message);
        return m.find() ? "quantization_config." + m.group(1) : "quantization_config";
    }

    private static Path fileOf(String source) {
        if (source == null || source.startsWith("<")) {
            return null;
        }
        try {
            return Path.of(source);
        } catch (java.nio.file.InvalidPathException e) {
            return null;
        }
    }

    private static boolean bool(JsonObject o, String key, boolean dflt, String msg) {
        JsonElement e = o.get(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new IllegalArgumentException(msg + ", got " + e);
        }
        return e.getAsBoolean();
    }

    private static String string(JsonObject o, String key, String dflt, String msg) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(msg + ", got " + e);
        }
        return e.getAsString();
    }

    static String torchName(DType t) {
        switch (t) {
            case F32: return "float32";
            case F16: return "float16";
            case BF16: return "bfloat16";
            case F64: return "float64";
            default: throw new IllegalArgumentException("not a floating dtype: " + t);
        }
    }

    // ------------------------------------------------------------------ quantizer

    /**
     * transformers' {@code get_modules_to_not_convert} for this config: {@code llm_int8_skip_modules} if given, else
     * {@link #keysToNotConvert(PreTrainedModel)}.
     */
    public List<String> modulesToNotConvert(PreTrainedModel model) {
        return llmInt8SkipModules != null ? llmInt8SkipModules : keysToNotConvert(model);
    }

    /**
     * transformers' {@code get_keys_to_not_convert}: the names (without {@code .weight}) of tied weights (every alias),
     * of the last parameter and of the output embeddings module; sorted.
     */
    public static List<String> keysToNotConvert(PreTrainedModel model) {
        java.util.TreeSet<String> out = new java.util.TreeSet<>();
        Map<String, org.peft4j.graph.Parameter> all = model.namedParameters(false);
        for (String tied : model.tiedWeightKeys()) {
            org.peft4j.graph.Parameter p = all.get(tied);
            for (Map.Entry<String, org.peft4j.graph.Parameter> e : all.entrySet()) {
                if (e.getKey().equals(tied) || (p != null && e.getValue() == p)) {
                    out.add(e.getKey());
                }
            }
        }
        String last = null;
        for (String k : model.namedParameters().keySet()) {
            last = k;
        }
        if (last != null) {
            out.add(last);
        }
        out.add(model.outputEmbeddingsName());
        java.util.TreeSet<String> stripped = new java.util.TreeSet<>();
        for (String k : out) {
            stripped.add(k.endsWith(".weight") ? k.substring(0, k.length() - ".weight".length()) : k);
        }
        return new ArrayList<>(stripped);
    }

    /**
     * transformers' {@code should_convert_module}: false when a pattern matches {@code name} from its start up to a
     * module boundary (as a regular expression: {@code "layer.1"} matches {@code layer.1.attn}, not
     * {@code layer.11.attn}; {@code "mlp.gate"} not {@code mlp.gate_proj}), or as a suffix.
     */
    public static boolean shouldConvertModule(String name, List<String> patterns) {
        if (patterns == null) {
            return true;
        }
        for (String key : patterns) {
            if (name.endsWith(key)) {
                return false;
            }
            try {
                if (java.util.regex.Pattern.compile("(?:" + key + ")(?:(?<=\\.)|(?=\\.|$))").matcher(name)
                        .lookingAt()) {
                    return false;
                }
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new IllegalArgumentException("llm_int8_skip_modules: '" + key + "' is not a valid pattern: "
                        + e.getDescription(), e);
            }
        }
        return true;
    }

    /**
     * transformers' {@code replace_with_bnb_linear}: replaces every {@link Linear} or {@link Conv1D} (exactly those
     * classes) that
     * {@link #modulesToNotConvert} does not exclude by a shape-only {@link Linear4bit} with this config's quant type,
     * double quantization and compute dtype, blocksize 64 and the model's dtype (the dtype the weight has when it
     * is quantized, and the bias's).
     *
     * @throws IllegalArgumentException if {@code load_in_4bit} is not set
     */
    @Override
    public void processModelBeforeWeightLoading(PreTrainedModel model, boolean preQuantized) {
        if (!loadIn4bit) {
            throw new IllegalArgumentException("BitsAndBytesConfig: load_in_4bit is not set; nothing to quantize "
                    + "(peft4j supports bitsandbytes 4-bit loading only)");
        }
        List<String> skip = modulesToNotConvert(model);
        int replaced = 0;
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            Module m = e.getValue();
            boolean linear = m.getClass() == Linear.class;
            boolean conv1d = m.getClass() == Conv1D.class;
            if (!(linear || conv1d) || !shouldConvertModule(e.getKey(), skip)) {
                continue;
            }
            LinearLike l = (LinearLike) m;
            boolean bias = l.bias() != null;
            model.setSubmodule(e.getKey(), conv1d
                    ? new Conv1DLinear4bit(l.inFeatures(), l.outFeatures(), bias, bnb4bitQuantType, BLOCKSIZE,
                            bnb4bitUseDoubleQuant, bnb4bitComputeDtype, model.dtype())
                    : new Linear4bit(l.inFeatures(), l.outFeatures(), bias, bnb4bitQuantType, BLOCKSIZE,
                            bnb4bitUseDoubleQuant, bnb4bitComputeDtype, model.dtype()));
            replaced++;
        }
        if (replaced == 0) {
            LOG.warn("You are loading your model using bitsandbytes but no linear modules were found in your model.");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BitsAndBytesConfig && toJson().equals(((BitsAndBytesConfig) o).toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "BitsAndBytesConfig " + toJson();
    }

    /** Builder for {@link BitsAndBytesConfig}; setters take transformers' values, {@link #build()} validates. */
    public static final class Builder {
        private boolean loadIn4bit;
        private boolean loadIn8bit;
        private double threshold = 6.0;
        private List<String> skipModules;
        private boolean fp32CpuOffload;
        private boolean hasFp16Weight;
        private DType computeDtype = DType.F32;
        private String quantType = "fp4";
        private boolean doubleQuant;
        private String quantStorage = "uint8";

        private Builder() {
        }

        /** {@code load_in_4bit}: replace the linear layers by 4-bit ones. */
        public Builder loadIn4bit(boolean v) {
            loadIn4bit = v;
            return this;
        }

        /** {@code load_in_8bit}: not supported ({@link #build()} refuses it). */
        public Builder loadIn8bit(boolean v) {
            loadIn8bit = v;
            return this;
        }

        /** {@code llm_int8_threshold} (LLM.int8() only; written to the config). */
        public Builder llmInt8Threshold(double v) {
            threshold = v;
            return this;
        }

        /** {@code llm_int8_skip_modules}: modules to keep in full precision (replaces the defaults); null: defaults. */
        public Builder llmInt8SkipModules(List<String> v) {
            skipModules = v == null ? null : new ArrayList<>(v);
            return this;
        }

        /** {@code llm_int8_enable_fp32_cpu_offload} (written to the config). */
        public Builder llmInt8EnableFp32CpuOffload(boolean v) {
            fp32CpuOffload = v;
            return this;
        }

        /** {@code llm_int8_has_fp16_weight} (written to the config). */
        public Builder llmInt8HasFp16Weight(boolean v) {
            hasFp16Weight = v;
            return this;
        }

        /** {@code bnb_4bit_compute_dtype}: float32 (default), float16 or bfloat16. */
        public Builder bnb4bitComputeDtype(DType v) {
            computeDtype = v;
            return this;
        }

        /**
         * {@code bnb_4bit_compute_dtype} by its torch name ({@code "bfloat16"}, {@code "torch.float16"}, ...).
         *
         * @throws IllegalArgumentException for a name that is not a torch floating dtype
         */
        public Builder bnb4bitComputeDtype(String torchName) {
            try {
                computeDtype = DType.fromTorchName(torchName);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("bnb_4bit_compute_dtype: module 'torch' has no attribute '"
                        + torchName + "'", e);
            }
            return this;
        }

        /** {@code bnb_4bit_quant_type}: "fp4" (default) or "nf4". */
        public Builder bnb4bitQuantType(String v) {
            quantType = v;
            return this;
        }

        /** {@code bnb_4bit_quant_type}. */
        public Builder bnb4bitQuantType(QuantType v) {
            quantType = v.bnbName();
            return this;
        }

        /** {@code bnb_4bit_use_double_quant}: quantize the absmax values again (8 bits, blocks of 256). */
        public Builder bnb4bitUseDoubleQuant(boolean v) {
            doubleQuant = v;
            return this;
        }

        /** {@code bnb_4bit_quant_storage} by torch name; only "uint8" (the default) is supported. */
        public Builder bnb4bitQuantStorage(String v) {
            quantStorage = v == null ? "uint8" : v.replace("torch.", "");
            return this;
        }

        /**
         * The config.
         *
         * @throws IllegalArgumentException with transformers' wording for invalid values (both 4 and 8 bits, a
         *     storage name transformers does not know, an unknown quant type), and naming what peft4j does not
         *     support (8-bit loading, storage other than uint8)
         */
        public BitsAndBytesConfig build() {
            return new BitsAndBytesConfig(this);
        }
    }

    /** Finds this config for {@code quant_method} "bitsandbytes" (registered with {@link java.util.ServiceLoader}). */
    public static final class Provider implements QuantizationConfig.Provider {
        /** For {@link java.util.ServiceLoader}. */
        public Provider() {
        }

        @Override
        public String quantMethod() {
            return QUANT_METHOD;
        }

        @Override
        public QuantizationConfig fromJson(String json, String source) {
            return BitsAndBytesConfig.fromJson(json, source);
        }
    }
}
