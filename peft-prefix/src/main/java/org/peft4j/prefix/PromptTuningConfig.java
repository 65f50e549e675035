package org.peft4j.prefix;

import com.google.gson.JsonObject;
import java.util.Map;
import org.peft4j.data.Tokenizer;
import org.peft4j.internal.PlainJson;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftType;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;

/**
 * Prompt tuning's config (PEFT's {@code PromptTuningConfig}, {@code peft_type} PROMPT_TUNING): the shared
 * prompt-learning fields plus {@code prompt_tuning_init} (default RANDOM), {@code prompt_tuning_init_text},
 * {@code tokenizer_name_or_path} and {@code tokenizer_kwargs}, validated with PEFT's messages. Not thread-safe.
 */
public final class PromptTuningConfig extends PromptLearningConfig {
    private PromptTuningInit promptTuningInit = PromptTuningInit.RANDOM;
    private String promptTuningInitText;
    private String tokenizerNameOrPath;
    private JsonObject tokenizerKwargs;
    private transient Tokenizer tokenizer;

    /**
     * A config for {@code numVirtualTokens} virtual tokens, RANDOM init, no task type (PEFT's defaults).
     *
     * @param numVirtualTokens {@code num_virtual_tokens}: the length of the trained prompt
     */
    public PromptTuningConfig(int numVirtualTokens) {
        super(PeftType.PROMPT_TUNING);
        this.numVirtualTokens = numVirtualTokens;
    }

    /**
     * Sets {@code task_type}.
     *
     * @param t PEFT's {@code task_type} (such as {@code CAUSAL_LM}), or null
     * @return this config
     */
    public PromptTuningConfig taskType(TaskType t) {
        this.taskType = t;
        return this;
    }

    private PromptTuningConfig() {
        super(PeftType.PROMPT_TUNING);
    }

    /**
     * TEXT init from {@code text}, tokenized by the tokenizer at {@code tokenizerNameOrPath} (a folder).
     *
     * @param text {@code prompt_tuning_init_text}: the text whose token embeddings start the prompt
     * @param tokenizerNameOrPath {@code tokenizer_name_or_path}: the tokenizer folder
     * @return this config
     */
    public PromptTuningConfig initText(String text, String tokenizerNameOrPath) {
        this.promptTuningInit = PromptTuningInit.TEXT;
        this.promptTuningInitText = text;
        this.tokenizerNameOrPath = tokenizerNameOrPath;
        validate();
        return this;
    }

    /**
     * TEXT init from {@code text}, tokenized by {@code tokenizer} (with its special tokens, as PEFT's
     * {@code tokenizer(text)}); {@code tokenizerNameOrPath} is what {@code adapter_config.json} records.
     *
     * @param text {@code prompt_tuning_init_text}: the text whose token embeddings start the prompt
     * @param tokenizerNameOrPath {@code tokenizer_name_or_path}, as saved in {@code adapter_config.json}
     * @param tokenizer the tokenizer that encodes {@code text}
     * @return this config
     */
    public PromptTuningConfig initText(String text, String tokenizerNameOrPath, Tokenizer tokenizer) {
        initText(text, tokenizerNameOrPath);
        this.tokenizer = tokenizer;
        return this;
    }

    /**
     * The tokenizer given to {@link #initText(String, String, Tokenizer)}, or null (not saved).
     *
     * @return the tokenizer, or null
     */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * Sets {@code prompt_tuning_init} (validated as PEFT's {@code __post_init__}).
     *
     * @param init RANDOM, SAMPLE_VOCAB or TEXT
     * @return this config
     */
    public PromptTuningConfig promptTuningInit(PromptTuningInit init) {
        this.promptTuningInit = init;
        validate();
        return this;
    }

    /**
     * Sets {@code tokenizer_kwargs} (only valid with TEXT).
     *
     * @param kwargs the keyword arguments PEFT passes to the tokenizer, as plain Java values (copied), or null
     * @return this config
     */
    public PromptTuningConfig tokenizerKwargs(Map<String, ?> kwargs) {
        this.tokenizerKwargs = kwargs == null ? null : PlainJson.toTree(kwargs).getAsJsonObject();
        validate();
        return this;
    }

    /**
     * {@code prompt_tuning_init} (default RANDOM).
     *
     * @return the initialisation
     */
    public PromptTuningInit promptTuningInit() {
        return promptTuningInit;
    }

    /**
     * {@code prompt_tuning_init_text}, or null.
     *
     * @return the text, or null
     */
    public String promptTuningInitText() {
        return promptTuningInitText;
    }

    /**
     * {@code tokenizer_name_or_path} (a folder holding {@code tokenizer.json}), or null.
     *
     * @return the tokenizer's folder, or null
     */
    public String tokenizerNameOrPath() {
        return tokenizerNameOrPath;
    }

    /**
     * {@code tokenizer_kwargs}, or null: applied to the TEXT init's tokenizer where peft4j can honour them
     * ({@code add_prefix_space}, {@code use_fast}, {@code subfolder}, {@code local_files_only}; {@code trust_remote_code}
     * dropped as PEFT); any other field is refused when the adapter is created, naming it.
     *
     * @return a copy of the keyword arguments as plain Java values (strings, numbers, booleans, lists, maps), in file
     *     order, or null
     */
    public Map<String, Object> tokenizerKwargs() {
        return PlainJson.toPlainMap(tokenizerKwargs);
    }

    /** {@code tokenizer_kwargs} as read (not a copy), or null, for this package. */
    JsonObject tokenizerKwargsTree() {
        return tokenizerKwargs;
    }

    /** PEFT's {@code __post_init__} checks, with its messages. */
    void validate() {
        if (promptTuningInit == PromptTuningInit.TEXT && (tokenizerNameOrPath == null
                || tokenizerNameOrPath.isEmpty())) {
            throw new IllegalArgumentException("When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be "
                    + (tokenizerNameOrPath == null ? "None" : tokenizerNameOrPath) + ".");
        }
        if (promptTuningInit == PromptTuningInit.TEXT && promptTuningInitText == null) {
            throw new IllegalArgumentException("When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be "
                    + "None.");
        }
        if (tokenizerKwargs != null && tokenizerKwargs.size() > 0 && promptTuningInit != PromptTuningInit.TEXT) {
            throw new IllegalArgumentException("tokenizer_kwargs only valid when using prompt_tuning_init='TEXT'.");
        }
    }

    /** Parses {@code adapter_config.json} (unknown keys are ignored with PEFT's warning). */
    static PromptTuningConfig fromJson(ConfigJson j) {
        PromptTuningConfig c = new PromptTuningConfig();
        c.readPromptLearning(j);
        try {
            c.promptTuningInit = PromptTuningInit.of(j.string("prompt_tuning_init", "RANDOM"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(j.source() + ": field 'prompt_tuning_init': " + e.getMessage(), e);
        }
        c.promptTuningInitText = j.string("prompt_tuning_init_text", null);
        c.tokenizerNameOrPath = j.string("tokenizer_name_or_path", null);
        ConfigJson kw = j.object("tokenizer_kwargs", "an object or null");
        if (kw != null) {
            c.tokenizerKwargs = PlainJson.parseTrusted(kw.toJson()).getAsJsonObject();
        }
        warnUnknown(j, PromptTuningConfig.class);
        try {
            c.validate();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(j.source() + ": " + e.getMessage(), e);
        }
        return c;
    }

    @Override
    public PromptTuningConfig copy() {
        PromptTuningConfig c = new PromptTuningConfig();
        copyPromptLearningTo(c);
        c.promptTuningInit = promptTuningInit;
        c.promptTuningInitText = promptTuningInitText;
        c.tokenizerNameOrPath = tokenizerNameOrPath;
        c.tokenizerKwargs = tokenizerKwargs == null ? null : tokenizerKwargs.deepCopy();
        c.tokenizer = tokenizer;
        return c;
    }

    @Override
    protected Map<String, Object> methodFields() {
        Map<String, Object> m = promptLearningFields();
        m.put("prompt_tuning_init", promptTuningInit.name());
        m.put("prompt_tuning_init_text", promptTuningInitText);
        m.put("tokenizer_name_or_path", tokenizerNameOrPath);
        m.put("tokenizer_kwargs", tokenizerKwargs);
        return m;
    }
}
