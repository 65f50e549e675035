package org.peft4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import org.peft4j.data.ChatTemplate;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.Message;
import org.peft4j.data.Tokenizer;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;

/**
 * Serving an adapter: load a PEFT adapter folder (saved by Python PEFT or by peft4j) onto its base model, answer a
 * chat prompt with the model's own tokenizer and chat template, then merge the adapter into the weights and export
 * a Hugging Face folder that transformers (or peft4j) loads without PEFT.
 *
 * <pre>
 * java ... org.peft4j.examples.AdapterInference MODEL_DIR ADAPTER_DIR MERGED_DIR ["prompt"]
 * </pre>
 * The Python equivalent: {@code PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir),
 * adapter_dir)}, {@code generate}, {@code merge_and_unload().save_pretrained(merged_dir)}.
 */
public final class AdapterInference {
    private AdapterInference() {
    }

    /** The answers with and without the adapter, and the answer of the exported merged model. */
    public record Result(String withAdapter, String baseOnly, String merged) {
    }

    /** Runs the example; {@code mergedDir} receives the merged model and the tokenizer files. */
    public static Result run(Path modelDir, Path adapterDir, Path mergedDir, String prompt, int maxNewTokens)
            throws IOException {
        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        try {
            long[] ids = promptIds(tokenizer, prompt);
            GenerationConfig cfg = generationConfig(tokenizer, maxNewTokens).build();

            PreTrainedModel base = AutoModelForCausalLM.fromPretrained(modelDir);
            PeftModel model = PeftModel.fromPretrained(base, adapterDir);   // frozen, for inference
            Answers answers = beforeAndAfter(tokenizer, model, ids, cfg);

            PreTrainedModel merged = model.mergeAndUnload();
            merged.savePretrained(mergedDir);
            for (String f : List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json",
                    "tokenizer.model")) {
                if (Files.exists(modelDir.resolve(f))) {
                    Files.copy(modelDir.resolve(f), mergedDir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            PreTrainedModel reloaded = AutoModelForCausalLM.fromPretrained(mergedDir);
            return new Result(answers.adapter(), answers.base(), answer(tokenizer, reloaded, ids, cfg));
        } finally {
            AutoTokenizer.close(tokenizer);
        }
    }

    /** The answers to one prompt with the adapter disabled (the base model) and enabled. */
    public record Answers(String base, String adapter) {
    }

    /**
     * A generation config for chat answers with this tokenizer: at most {@code maxNewTokens}, stopping at its
     * end-of-sequence tokens, padding with its pad token when it has one. Greedy unless the caller sets more.
     */
    public static GenerationConfig.Builder generationConfig(Tokenizer tokenizer, int maxNewTokens) {
        GenerationConfig.Builder b = GenerationConfig.builder().maxNewTokens(maxNewTokens)
                .eosTokenIds(tokenizer.eosTokenIds());
        if (tokenizer.padTokenId() != null) {
            b.padTokenId(tokenizer.padTokenId());
        }
        return b;
    }

    /**
     * The token ids of {@code prompt} as one user turn with the generation prompt, by the tokenizer's own chat format
     * ({@link Tokenizer#applyChatTemplate}: the Jinja template of a Hugging Face tokenizer, ChatGLM3's format).
     */
    public static long[] promptIds(Tokenizer tokenizer, String prompt) {
        return tokenizer.applyChatTemplate(List.of(Message.user(prompt)), true);
    }

    /** The token ids of {@code prompt} as one user turn, rendered with {@code template} and its generation prompt. */
    public static long[] promptIds(Tokenizer tokenizer, ChatTemplate template, String prompt) {
        return tokenizer.encode(template.render(List.of(Message.user(prompt)), true), false);
    }

    /** Answers {@code ids} with {@code peft}'s adapter disabled, then enabled. */
    public static Answers beforeAndAfter(Tokenizer tokenizer, PeftModel peft, long[] ids, GenerationConfig cfg) {
        String base;
        try (PeftModel.AdapterDisabled off = peft.disableAdapter()) {
            base = answer(tokenizer, peft.getBaseModel(), ids, cfg);
        }
        return new Answers(base, answer(tokenizer, peft.getBaseModel(), ids, cfg));
    }

    /**
     * The model's continuation of {@code ids} under {@code cfg} (greedy or sampled), decoded up to the first
     * end-of-sequence token with {@code skip_special_tokens=True} and stripped.
     */
    public static String answer(Tokenizer tokenizer, PreTrainedModel model, long[] ids, GenerationConfig cfg) {
        long[] out = new Generator(model).generate(ids, cfg);
        int end = ids.length;
        while (end < out.length && !cfg.eosTokenIds().contains(out[end])) {
            end++;
        }
        return tokenizer.decode(Arrays.copyOfRange(out, ids.length, end), true).strip();
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: AdapterInference MODEL_DIR ADAPTER_DIR MERGED_DIR [prompt]");
            System.exit(2);
        }
        String prompt = args.length > 3 ? args[3] : "Who are you?";
        Result r = run(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]), prompt, 48);
        System.out.println("prompt:            " + prompt);
        System.out.println("base model:        " + r.baseOnly());
        System.out.println("base + adapter:    " + r.withAdapter());
        System.out.println("merged (exported): " + r.merged());
    }
}
