package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.qlora.BitsAndBytesConfig;
import picocli.CommandLine.Option;

/**
 * transformers' {@code BitsAndBytesConfig} as options ({@code --load-in-4bit}, {@code --bnb-4bit-quant-type}, ...):
 * the base model is quantized to 4 bits as it is loaded (or loaded as saved, when its folder is already 4-bit).
 * Defaults are transformers': FP4 without double quantization, float32 compute; QLoRA as published is
 * {@code --load-in-4bit --bnb-4bit-quant-type nf4 --bnb-4bit-use-double-quant}.
 */
public final class QuantOptions {
    @Option(names = "--load-in-4bit", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "Quantize the base model's linear layers (not lm_head) to 4 bits as it is loaded "
                + "(bitsandbytes' layout and arithmetic).")
    boolean loadIn4bit;

    @Option(names = "--bnb-4bit-quant-type", defaultValue = "fp4", paramLabel = "nf4|fp4",
            description = "4-bit data type (default: ${DEFAULT-VALUE}, as transformers; QLoRA uses nf4).")
    String quantType;

    @Option(names = "--bnb-4bit-use-double-quant", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "Quantize the per-block scales too (about 0.37 bits per parameter less).")
    boolean doubleQuant;

    @Option(names = "--bnb-4bit-compute-dtype", defaultValue = "float32", paramLabel = "DTYPE",
            description = "dtype the 4-bit layers compute in: float32, float16 or bfloat16 "
                + "(default: ${DEFAULT-VALUE}).")
    String computeDtype;

    /** Whether a quantization option other than the defaults was given without {@code --load-in-4bit}. */
    private boolean strayOptions() {
        return !loadIn4bit && (!quantType.equals("fp4") || doubleQuant || !computeDtype.equals("float32"));
    }

    /** The config, or null without {@code --load-in-4bit}. */
    BitsAndBytesConfig config() {
        if (strayOptions()) {
            throw new CliException("--bnb-4bit-* options need --load-in-4bit");
        }
        if (!loadIn4bit) {
            return null;
        }
        try {
            return BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType(quantType)
                    .bnb4bitUseDoubleQuant(doubleQuant).bnb4bitComputeDtype(computeDtype).build();
        } catch (IllegalArgumentException e) {
            throw new CliException("invalid 4-bit options: " + e.getMessage(), e);
        }
    }

    /** Loads the model folder, in 4 bits with {@code --load-in-4bit}. */
    PreTrainedModel load(Path modelDir) throws IOException {
        BitsAndBytesConfig c = config();
        return c == null ? AutoModelForCausalLM.fromPretrained(modelDir)
                : AutoModelForCausalLM.fromPretrained(modelDir, c);
    }

    /** A description for the run's header, e.g. {@code "4-bit nf4, double quant, compute float32"}, or null. */
    String describe() {
        return loadIn4bit ? "4-bit " + quantType + (doubleQuant ? ", double quant" : "") + ", compute "
                + computeDtype : null;
    }
}
