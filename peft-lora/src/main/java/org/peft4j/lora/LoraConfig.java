package org.peft4j.lora;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.TunerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LoRA's configuration ({@code LoraConfig}), with PEFT's field names, defaults and validation messages. Build one
 * with {@link #builder()}:
 *
 * <pre>{@code
 * LoraConfig cfg = LoraConfig.builder().r(8).loraAlpha(16).targetModules("q_proj", "v_proj")
 *         .loraDropout(0.05).taskType(TaskType.CAUSAL_LM).build();
 * }</pre>
 *
 * <p>peft4j extension: {@code enable_lora} (a list of booleans) adapts only some parts of a fused projection, in
 * the loralib / lit-llama {@code MergedLinear} form; PEFT does not know this key.
 */
public final class LoraConfig extends TunerConfig {
    private static final Logger LOG = LoggerFactory.getLogger(LoraConfig.class);
    /** Values accepted for {@code init_lora_weights} besides true and false. */
    public static final List<String> INIT_METHODS = List.of("gaussian", "pissa", "olora");
    /** {@code init_lora_weights="loftq"}: needs {@link #loftqConfig()} and the peft-qlora module. */
    public static final String LOFTQ = "loftq";
    static final String LOFTQ_IGNORED_WARNING =
            "`loftq_config` specified but will be ignored when `init_lora_weights` is not 'loftq'.";

    int r = 8;
    double loraAlpha = 8;
    double loraDropout = 0.0;
    boolean fanInFanOut;
    String bias = "none";
    boolean useRslora;
    /** Boolean or String. */
    Object initLoraWeights = Boolean.TRUE;
    LinkedHashMap<String, Integer> rankPattern = new LinkedHashMap<>();
    LinkedHashMap<String, Double> alphaPattern = new LinkedHashMap<>();
    boolean loraBias;
    boolean useDora;
    List<Boolean> enableLora;
    /** {@code loftq_config}; null when not given (PEFT writes {@code {}}). */
    LoftQConfig loftqConfig;

    LoraConfig() {
        super(PeftType.LORA);
    }

    /**
     * A builder with PEFT's {@code LoraConfig} defaults (r 8, lora_alpha 8, lora_dropout 0.0, bias "none").
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * {@code r}: the rank of the update {@code lora_B @ lora_A}.
     *
     * @return the rank
     */
    public int r() {
        return r;
    }

    /**
     * {@code lora_alpha}: the update is scaled by {@code lora_alpha / r} (by {@code lora_alpha / sqrt(r)} with rsLoRA).
     *
     * @return lora_alpha
     */
    public double loraAlpha() {
        return loraAlpha;
    }

    /**
     * {@code lora_dropout}: the dropout probability before {@code lora_A} during training.
     *
     * @return the probability
     */
    public double loraDropout() {
        return loraDropout;
    }

    /**
     * {@code fan_in_fan_out}: true when the target layer stores its weight as (in, out), as GPT-2's Conv1D.
     *
     * @return fan_in_fan_out
     */
    public boolean fanInFanOut() {
        return fanInFanOut;
    }

    /** Changes {@code fan_in_fan_out} (PEFT does so, with a warning, when the target layer demands it). */
    void setFanInFanOut(boolean v) {
        this.fanInFanOut = v;
    }

    /**
     * {@code "none"}, {@code "all"} or {@code "lora_only"}.
     *
     * @return PEFT's {@code bias} (default {@code "none"})
     */
    public String bias() {
        return bias;
    }

    /**
     * {@code use_rslora}: rank-stabilised scaling {@code lora_alpha / sqrt(r)}.
     *
     * @return use_rslora
     */
    public boolean useRslora() {
        return useRslora;
    }

    /**
     * {@code Boolean.TRUE}, {@code Boolean.FALSE}, or one of {@link #INIT_METHODS}.
     *
     * @return PEFT's {@code init_lora_weights} (default {@code true}: Kaiming-uniform A, zero B)
     */
    public Object initLoraWeights() {
        return initLoraWeights;
    }

    /**
     * {@code rank_pattern}: a rank per module-name pattern, overriding {@code r}.
     *
     * @return the patterns (empty when none)
     */
    public Map<String, Integer> rankPattern() {
        return rankPattern;
    }

    /**
     * {@code alpha_pattern}: a lora_alpha per module-name pattern, overriding {@code lora_alpha}.
     *
     * @return the patterns (empty when none)
     */
    public Map<String, Double> alphaPattern() {
        return alphaPattern;
    }

    /**
     * {@code lora_bias}: whether {@code lora_B} has a bias.
     *
     * @return lora_bias
     */
    public boolean loraBias() {
        return loraBias;
    }

    /**
     * {@code use_dora}: weight-decomposed LoRA (DoRA), with a trainable magnitude vector per output feature.
     *
     * @return use_dora
     */
    public boolean useDora() {
        return useDora;
    }

    /**
     * {@code loftq_config} (with {@code init_lora_weights="loftq"}), or null.
     *
     * @return the LoftQ settings, or null
     */
    public LoftQConfig loftqConfig() {
        return loftqConfig;
    }

    /**
     * The peft4j {@code enable_lora} extension for fused projections, or null.
     *
     * @return one flag per fused part, or null for an ordinary projection
     */
    public List<Boolean> enableLora() {
        return enableLora;
    }

    void setRankAlpha(int r, double alpha) {
        this.r = r;
        this.loraAlpha = alpha;
        this.rankPattern = new LinkedHashMap<>();
        this.alphaPattern = new LinkedHashMap<>();
    }

    static final String RSLORA_PATTERN_WARNING = "Using Rank-Stabilized LoRA with rank_pattern/alpha_pattern and "
            + "post-training conversion of modified base weights PiSSA/CorDA/OLoRA/LoRA-GA means that you won't be able "
            + "to pass `path_initial_model_for_weight_conversion` to `save_pretrained` to restore the initial values of "
            + "the base weights; if you intend to do this, please ensure not to use rslora or "
            + "rank_pattern/alpha_pattern.";

    /**
     * PEFT's condition for {@link #RSLORA_PATTERN_WARNING}: rslora, a rank or alpha pattern, and an initialisation
     * that modifies the base weights (pissa*, olora, corda, lora_ga).
     */
    static boolean warnsRsloraWithPatterns(boolean useRslora, boolean hasPatterns, Object initLoraWeights) {
        if (!useRslora || !hasPatterns) {
            return false;
        }
        if (initLoraWeights instanceof String) {
            String init = (String) initLoraWeights;
            return init.startsWith("pissa") || init.equals("olora") || init.equals("corda") || init.equals("lora_ga");
        }
        return false;
    }

    void validate() {
        validateTargeting();
        if (r <= 0) {
            throw new IllegalArgumentException("`r` should be a positive integer value but the value passed is " + r);
        }
        if (!List.of("none", "all", "lora_only").contains(bias)) {
            throw new UnsupportedOperationException("Requested bias: " + bias + ", is not implemented.");
        }
        if (LOFTQ.equals(initLoraWeights)) {
            if (loftqConfig == null) {
                throw new IllegalArgumentException(
                        "`loftq_config` must be specified when `init_lora_weights` is 'loftq'.");
            }
        } else if (loftqConfig != null) {
            loftqConfig = null;
            LOG.warn(LOFTQ_IGNORED_WARNING);
        }
        if (!(initLoraWeights instanceof Boolean) && !INIT_METHODS.contains(initLoraWeights)
                && !LOFTQ.equals(initLoraWeights)) {
            throw new IllegalArgumentException("init_lora_weights must be true, false or one of " + INIT_METHODS
                    + " or loftq (eva, corda and the other data-driven initialisations are not supported), got "
                    + initLoraWeights);
        }
        if (loraBias) {
            if (!(initLoraWeights instanceof Boolean)) {
                throw new IllegalArgumentException("The argument lora_bias=True is only supported with "
                        + "init_lora_weights=True or False, got init_lora_weights=" + initLoraWeights + " instead.");
            }
            if (useDora) {
                throw new IllegalArgumentException("The argument lora_bias=True is not supported for DoRA, please "
                        + "pass use_dora=False");
            }
        }
        if (loraDropout < 0 || loraDropout >= 1) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + loraDropout);
        }
        if (warnsRsloraWithPatterns(useRslora, !rankPattern.isEmpty() || !alphaPattern.isEmpty(), initLoraWeights)) {
            LOG.warn(RSLORA_PATTERN_WARNING);
        }
        if (enableLora != null && !enableLora.contains(Boolean.TRUE)) {
            throw new IllegalArgumentException("enable_lora must enable at least one part, got " + enableLora);
        }
    }

    @Override
    public LoraConfig copy() {
        LoraConfig c = new LoraConfig();
        copyTargetingTo(c);
        c.r = r;
        c.loraAlpha = loraAlpha;
        c.loraDropout = loraDropout;
        c.fanInFanOut = fanInFanOut;
        c.bias = bias;
        c.useRslora = useRslora;
        c.initLoraWeights = initLoraWeights;
        c.rankPattern = new LinkedHashMap<>(rankPattern);
        c.alphaPattern = new LinkedHashMap<>(alphaPattern);
        c.loraBias = loraBias;
        c.useDora = useDora;
        c.enableLora = enableLora == null ? null : new ArrayList<>(enableLora);
        c.loftqConfig = loftqConfig;
        return c;
    }

    // ------------------------------------------------------------------ JSON

    @Override
    protected Map<String, Object> methodFields() {
        Map<String, Object> f = fields();
        writeTargeting(f);
        f.put("r", r);
        f.put("lora_alpha", number(loraAlpha));
        f.put("lora_dropout", loraDropout);
        f.put("fan_in_fan_out", fanInFanOut);
        f.put("bias", bias);
        f.put("use_rslora", useRslora);
        f.put("init_lora_weights", initLoraWeights);
        f.put("rank_pattern", rankPattern);
        Map<String, Object> ap = new LinkedHashMap<>();
        alphaPattern.forEach((k, v) -> ap.put(k, number(v)));
        f.put("alpha_pattern", ap);
        f.put("lora_bias", loraBias);
        f.put("use_dora", useDora);
        // fields PEFT writes that peft4j does not use: written with PEFT's defaults so PEFT reads the file as is
        f.put("megatron_config", null);
        f.put("megatron_core", "megatron.core");
        f.put("trainable_token_indices", null);
        Map<String, Object> lq = new LinkedHashMap<>();
        if (loftqConfig != null) {
            lq.put("loftq_bits", loftqConfig.loftqBits());
            lq.put("loftq_iter", loftqConfig.loftqIter());
        }
        f.put("loftq_config", lq);
        f.put("eva_config", null);
        f.put("corda_config", null);
        f.put("layer_replication", null);
        f.put("target_parameters", null);
        f.put("use_qalora", false);
        f.put("qalora_group_size", 16);
        f.put("alora_invocation_tokens", null);
        f.put("arrow_config", null);
        f.put("ensure_weight_tying", false);
        f.put("lora_ga_config", null);
        f.put("kasa_config", null);
        f.put("monteclora_config", null);
        f.put("use_bdlora", null);
        f.put("velora_config", null);
        if (enableLora != null) {
            f.put("enable_lora", enableLora);
        }
        return f;
    }

    /** {@code loftq_config}: an object with integer {@code loftq_bits} / {@code loftq_iter}; {} or null for none. */
    private static LoftQConfig readLoftq(ConfigJson j) {
        ConfigJson lq = j.object("loftq_config", "an object with loftq_bits and loftq_iter");
        if (lq == null || lq.keys().isEmpty()) {
            return null;
        }
        LoftQConfig d = new LoftQConfig();
        LoftQConfig c = new LoftQConfig(lq.integer("loftq_bits", d.loftqBits()),
                lq.integer("loftq_iter", d.loftqIter()));
        for (String k : lq.keys()) {
            if (!k.equals("loftq_bits") && !k.equals("loftq_iter")) {
                throw new IllegalArgumentException(j.source() + ": unknown field '" + k + "' in loftq_config");
            }
        }
        return c;
    }

    private static Number number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? (Number) Long.valueOf((long) v) : (Number) Double.valueOf(v);
    }

    /**
     * Parses {@code adapter_config.json}'s object (unknown keys are ignored with PEFT's warning).
     *
     * @throws IllegalArgumentException naming the source and the field for a value of the wrong JSON type, an
     *     integer out of range ({@code r} beyond the int range, a {@code rank_pattern} rank below 1), a non-finite
     *     number, a regular expression that does not compile, or a value PEFT's validation refuses (PEFT's message)
     */
    static LoraConfig fromJson(ConfigJson j) {
        LoraConfig c = new LoraConfig();
        c.readCommon(j);
        c.readTargeting(j);
        c.r = j.integer("r", 8);
        c.loraAlpha = j.number("lora_alpha", 8);
        c.loraDropout = j.number("lora_dropout", 0.0);
        c.fanInFanOut = j.bool("fan_in_fan_out", false);
        c.bias = j.string("bias", "none");
        c.useRslora = j.bool("use_rslora", false);
        Object init = j.value("init_lora_weights");
        if (init != null) {
            if (init instanceof Boolean || init instanceof String) {
                c.initLoraWeights = init;
            } else {
                throw j.error("init_lora_weights", "true, false or a method name");
            }
        }
        c.rankPattern.putAll(j.integerMap("rank_pattern", 1, Integer.MAX_VALUE));
        c.alphaPattern.putAll(j.numberMap("alpha_pattern"));
        for (String k : c.rankPattern.keySet()) {
            j.checkRegex("rank_pattern", k, "(.*\\.)?(%s)$");
        }
        for (String k : c.alphaPattern.keySet()) {
            j.checkRegex("alpha_pattern", k, "(.*\\.)?(%s)$");
        }
        c.loraBias = j.bool("lora_bias", false);
        c.useDora = j.bool("use_dora", false);
        c.enableLora = j.booleans("enable_lora");
        // PEFT fields without an effect here: read so they are not reported as unknown; refuse the ones that
        // would change the model
        c.loftqConfig = readLoftq(j);
        for (String k : List.of("megatron_config", "megatron_core", "eva_config", "corda_config",
                "lora_ga_config", "qalora_group_size", "alora_invocation_tokens", "arrow_config", "kasa_config",
                "monteclora_config", "velora_config", "use_bdlora", "ensure_weight_tying")) {
            j.value(k);
        }
        for (String k : List.of("layer_replication", "target_parameters", "trainable_token_indices")) {
            if (j.has(k)) {
                throw new IllegalArgumentException(j.source() + ": field '" + k + "' is not supported by peft4j");
            }
            j.value(k);
        }
        if (j.bool("use_qalora", false)) {
            throw new IllegalArgumentException(j.source() + ": field 'use_qalora' (GPTQ) is not supported by peft4j");
        }
        warnUnknown(j, LoraConfig.class);
        try {
            c.validate();
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            throw new IllegalArgumentException(j.source() + ": " + e.getMessage(), e);
        }
        return c;
    }

    /** Builder with PEFT's defaults. */
    public static final class Builder {
        private final LoraConfig c = new LoraConfig();

        /**
         * Sets {@code r}, the rank of the update (PEFT's default 8).
         *
         * @param v the rank, positive
         * @return this builder
         */
        public Builder r(int v) {
            c.r = v;
            return this;
        }

        /**
         * Sets {@code lora_alpha}; the update is scaled by {@code lora_alpha / r} (PEFT's default 8).
         *
         * @param v lora_alpha
         * @return this builder
         */
        public Builder loraAlpha(double v) {
            c.loraAlpha = v;
            return this;
        }

        /**
         * Sets {@code lora_dropout}, the dropout probability before {@code lora_A} in training (PEFT's default 0.0).
         *
         * @param v the probability in [0, 1)
         * @return this builder
         */
        public Builder loraDropout(double v) {
            c.loraDropout = v;
            return this;
        }

        /**
         * Module names (exact or dotted suffix), or {@code "all-linear"} as the only entry.
         *
         * @param names the target module names, or the single entry {@code "all-linear"}
         * @return this builder
         */
        public Builder targetModules(String... names) {
            if (names.length == 1 && ALL_LINEAR.equalsIgnoreCase(names[0])) {
                c.targetModules = ALL_LINEAR;
            } else {
                c.targetModules = normalizeTargets(Arrays.asList(names));
            }
            return this;
        }

        /**
         * Module names (exact or dotted suffix).
         *
         * @param names the target module names
         * @return this builder
         */
        public Builder targetModules(List<String> names) {
            c.targetModules = normalizeTargets(names);
            return this;
        }

        /**
         * A regular expression that must match the whole module name (PEFT's str form).
         *
         * @param regex the pattern, matched against the full dotted module name
         * @return this builder
         */
        public Builder targetModulesRegex(String regex) {
            c.targetModules = regex;
            return this;
        }

        /**
         * Sets {@code exclude_modules}: module names (exact or dotted suffix) never adapted.
         *
         * @param names the module names
         * @return this builder
         */
        public Builder excludeModules(String... names) {
            c.excludeModules = normalizeTargets(Arrays.asList(names));
            return this;
        }

        /**
         * Sets {@code exclude_modules} to a regular expression matched against the whole module name.
         *
         * @param regex the expression
         * @return this builder
         */
        public Builder excludeModulesRegex(String regex) {
            c.excludeModules = regex;
            return this;
        }

        /**
         * Sets {@code fan_in_fan_out}: true for layers that store their weight as (in, out), as GPT-2's Conv1D.
         *
         * @param v fan_in_fan_out
         * @return this builder
         */
        public Builder fanInFanOut(boolean v) {
            c.fanInFanOut = v;
            return this;
        }

        /**
         * {@code "none"}, {@code "all"} or {@code "lora_only"}.
         *
         * @param v PEFT's {@code bias} (default {@code "none"}): which biases are trained besides the adapter
         * @return this builder
         */
        public Builder bias(String v) {
            c.bias = v;
            return this;
        }

        /**
         * Sets {@code use_rslora}: scale by {@code lora_alpha / sqrt(r)} instead of {@code lora_alpha / r}.
         *
         * @param v use_rslora
         * @return this builder
         */
        public Builder useRslora(boolean v) {
            c.useRslora = v;
            return this;
        }

        /**
         * Sets {@code modules_to_save}: modules trained in full and saved with the adapter (e.g. {@code lm_head}).
         *
         * @param names the module names
         * @return this builder
         */
        public Builder modulesToSave(String... names) {
            c.modulesToSave = new ArrayList<>(Arrays.asList(names));
            return this;
        }

        /**
         * Sets {@code init_lora_weights}: true for PEFT's default (Kaiming-uniform {@code lora_A}, zero {@code lora_B}: the
         * adapter starts as the identity), false for random {@code lora_B} too (tests only).
         *
         * @param v init_lora_weights
         * @return this builder
         */
        public Builder initLoraWeights(boolean v) {
            c.initLoraWeights = v;
            return this;
        }

        /**
         * Sets {@code loftq_config}, for {@code initLoraWeights("loftq")}.
         *
         * @param v the LoftQ settings
         * @return this builder
         */
        public Builder loftqConfig(LoftQConfig v) {
            c.loftqConfig = v;
            return this;
        }

        /**
         * Sets {@code init_lora_weights} to a named method: one of {@link #INIT_METHODS} ({@code "gaussian"},
         * {@code "pissa"}, {@code "olora"}), or {@code "loftq"} with {@link #loftqConfig}.
         *
         * @param method the method
         * @return this builder
         */
        public Builder initLoraWeights(String method) {
            c.initLoraWeights = method;
            return this;
        }

        /**
         * Sets {@code layers_to_transform}: only these layer indices are adapted.
         *
         * @param layers the layer indices
         * @return this builder
         */
        public Builder layersToTransform(Integer... layers) {
            c.layersToTransform = new ArrayList<>(Arrays.asList(layers));
            return this;
        }

        /**
         * Sets {@code layers_pattern}: the name of the layer list that {@code layers_to_transform} indexes (e.g.
         * {@code "layers"}).
         *
         * @param patterns the pattern, or several
         * @return this builder
         */
        public Builder layersPattern(String... patterns) {
            c.layersPattern = new ArrayList<>(Arrays.asList(patterns));
            c.layersPatternScalar = patterns.length == 1;
            return this;
        }

        /**
         * A rank per module-name pattern (a regex matched as a dotted suffix; first match wins).
         *
         * @param v PEFT's {@code rank_pattern}: pattern to rank, overriding {@code r} for the modules it matches
         * @return this builder
         */
        public Builder rankPattern(Map<String, Integer> v) {
            c.rankPattern = new LinkedHashMap<>(v);
            return this;
        }

        /**
         * Sets {@code alpha_pattern}: a lora_alpha per module-name pattern (a regex matched as a dotted suffix; first match
         * wins).
         *
         * @param v pattern to lora_alpha
         * @return this builder
         */
        public Builder alphaPattern(Map<String, ? extends Number> v) {
            c.alphaPattern = new LinkedHashMap<>();
            v.forEach((k, x) -> c.alphaPattern.put(k, x.doubleValue()));
            return this;
        }

        /**
         * Sets {@code lora_bias}: give {@code lora_B} a bias.
         *
         * @param v lora_bias
         * @return this builder
         */
        public Builder loraBias(boolean v) {
            c.loraBias = v;
            return this;
        }

        /**
         * Sets {@code use_dora}: weight-decomposed LoRA (DoRA).
         *
         * @param v use_dora
         * @return this builder
         */
        public Builder useDora(boolean v) {
            c.useDora = v;
            return this;
        }

        /**
         * peft4j extension: which parts of a fused projection get LoRA (loralib's {@code enable_lora}).
         *
         * @param parts one flag per fused part, in the projection's output order
         * @return this builder
         */
        public Builder enableLora(Boolean... parts) {
            c.enableLora = new ArrayList<>(Arrays.asList(parts));
            return this;
        }

        /**
         * Sets {@code task_type} (e.g. {@code CAUSAL_LM}), written to {@code adapter_config.json}.
         *
         * @param v the task type
         * @return this builder
         */
        public Builder taskType(TaskType v) {
            c.taskType = v;
            return this;
        }

        /**
         * Sets {@code inference_mode}: true freezes the adapter (as a loaded adapter is by default).
         *
         * @param v inference_mode
         * @return this builder
         */
        public Builder inferenceMode(boolean v) {
            c.inferenceMode = v;
            return this;
        }

        /**
         * Sets {@code base_model_name_or_path}, the base model the adapter belongs to.
         *
         * @param v a Hub id or a folder
         * @return this builder
         */
        public Builder baseModelNameOrPath(String v) {
            c.baseModelNameOrPath = v;
            return this;
        }

        /**
         * Sets {@code revision}, the base model's revision.
         *
         * @param v the revision
         * @return this builder
         */
        public Builder revision(String v) {
            c.revision = v;
            return this;
        }

        /**
         * The config.
         *
         * @return the validated, immutable config
         * @throws IllegalArgumentException with PEFT's messages when fields contradict each other
         */
        public LoraConfig build() {
            LoraConfig out = c.copy();
            out.validate();
            return out;
        }
    }
}
