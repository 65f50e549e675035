package org.peft4j.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.peft4j.data.Tokenizer;
import org.peft4j.peft.config.TaskType;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.prefix.PrefixTuningConfig;
import org.peft4j.prefix.PromptEncoderConfig;
import org.peft4j.prefix.PromptEncoderReparameterizationType;
import org.peft4j.prefix.PromptTuningConfig;
import org.peft4j.prefix.PromptTuningInit;
import picocli.CommandLine.Option;

/**
 * The method to train ({@code --peft-type}) and the prompt-learning configs' fields as options
 * ({@code --num-virtual-tokens}, {@code --prefix-projection}, {@code --prompt-tuning-init}, ...), named after
 * {@code PrefixTuningConfig}, {@code PromptTuningConfig} and {@code PromptEncoderConfig}.
 */
public final class PromptOptions {
    @Option(names = "--peft-type", defaultValue = "LORA", paramLabel = "TYPE",
            description = "LORA, PREFIX_TUNING, PROMPT_TUNING or P_TUNING (default: ${DEFAULT-VALUE}).")
    String peftType;

    @Option(names = "--num-virtual-tokens", defaultValue = "20", paramLabel = "N",
            description = "Virtual tokens of prompt learning (default: ${DEFAULT-VALUE}).")
    int numVirtualTokens;

    @Option(names = "--prefix-projection", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "PREFIX_TUNING: produce the prefix through an MLP (Linear-Tanh-Linear) while training.")
    boolean prefixProjection;

    @Option(names = "--encoder-hidden-size", paramLabel = "N",
            description = "PREFIX_TUNING with --prefix-projection, P_TUNING: the encoder's hidden size "
                + "(default: the model's hidden size).")
    Integer encoderHiddenSize;

    @Option(names = "--prompt-tuning-init", defaultValue = "RANDOM", paramLabel = "INIT",
            description = "PROMPT_TUNING: RANDOM, TEXT or SAMPLE_VOCAB (default: ${DEFAULT-VALUE}).")
    String promptTuningInit;

    @Option(names = "--prompt-tuning-init-text", paramLabel = "TEXT",
            description = "PROMPT_TUNING with --prompt-tuning-init TEXT: the text whose token embeddings start the "
                + "virtual tokens (tokenised by the model folder's tokenizer).")
    String promptTuningInitText;

    @Option(names = "--encoder-reparameterization-type", defaultValue = "MLP", paramLabel = "MLP|LSTM",
            description = "P_TUNING: the prompt encoder (default: ${DEFAULT-VALUE}).")
    String encoderReparameterizationType;

    /** Whether the method is LoRA (the LoRA options apply). */
    boolean isLora() {
        return peftType().equals("LORA");
    }

    private String peftType() {
        String t = peftType.strip().toUpperCase(Locale.ROOT);
        if (!t.equals("LORA") && !t.equals("PREFIX_TUNING") && !t.equals("PROMPT_TUNING") && !t.equals("P_TUNING")) {
            throw new CliException("--peft-type '" + peftType + "': expected LORA, PREFIX_TUNING, PROMPT_TUNING or "
                    + "P_TUNING");
        }
        return t;
    }

    /**
     * The prompt-learning config (task CAUSAL_LM) for {@code --peft-type}; the TEXT init is tokenised by
     * {@code tokenizer}, whose folder {@code modelDir} is recorded as {@code tokenizer_name_or_path}.
     */
    PromptLearningConfig build(Path modelDir, Tokenizer tokenizer) {
        if (numVirtualTokens <= 0) {
            throw new CliException("--num-virtual-tokens must be > 0, got " + numVirtualTokens);
        }
        try {
            switch (peftType()) {
                case "PREFIX_TUNING":
                    return new PrefixTuningConfig(numVirtualTokens).taskType(TaskType.CAUSAL_LM)
                            .prefixProjection(prefixProjection).encoderHiddenSize(encoderHiddenSize);
                case "PROMPT_TUNING": {
                    PromptTuningConfig c = new PromptTuningConfig(numVirtualTokens).taskType(TaskType.CAUSAL_LM);
                    PromptTuningInit init = PromptTuningInit.valueOf(promptTuningInit.strip()
                            .toUpperCase(Locale.ROOT));
                    if (init == PromptTuningInit.TEXT) {
                        if (promptTuningInitText == null || promptTuningInitText.isBlank()) {
                            throw new CliException("--prompt-tuning-init TEXT needs --prompt-tuning-init-text");
                        }
                        c.initText(promptTuningInitText, modelDir.toString(), tokenizer);
                    } else {
                        c.promptTuningInit(init);
                    }
                    return c;
                }
                case "P_TUNING":
                    return new PromptEncoderConfig(numVirtualTokens).taskType(TaskType.CAUSAL_LM)
                            .encoderReparameterizationType(PromptEncoderReparameterizationType.valueOf(
                                    encoderReparameterizationType.strip().toUpperCase(Locale.ROOT)))
                            .encoderHiddenSize(encoderHiddenSize);
                default:
                    throw new IllegalStateException("LoRA has no prompt-learning config");
            }
        } catch (IllegalArgumentException e) {
            throw new CliException("invalid " + peftType() + " options: " + e.getMessage(), e);
        }
    }

    /** One line describing the prompt-learning config, e.g. {@code PROMPT_TUNING: num_virtual_tokens=20, ...}. */
    static String describe(PromptLearningConfig c) {
        StringBuilder sb = new StringBuilder(c.peftType().name()).append(": num_virtual_tokens=")
                .append(c.numVirtualTokens());
        if (c instanceof PrefixTuningConfig p) {
            sb.append(", prefix_projection=").append(p.prefixProjection() ? "True" : "False");
        } else if (c instanceof PromptTuningConfig p) {
            sb.append(", prompt_tuning_init=").append(p.promptTuningInit());
        } else if (c instanceof PromptEncoderConfig p) {
            sb.append(", encoder_reparameterization_type=").append(p.encoderReparameterizationType());
        }
        return sb.toString();
    }
}
