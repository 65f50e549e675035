package org.peft4j.cli;

import java.nio.file.Path;
import org.peft4j.train.TrainingArguments;
import picocli.CommandLine.Option;

/**
 * TrainingArguments' fields as options ({@code --learning-rate}, {@code --max-steps}, ...). Defaults are
 * transformers' except {@code --learning-rate} (2e-4, a usual LoRA rate) and {@code --logging-steps} (10, so that
 * short runs draw a loss curve).
 */
public final class TrainingOptions {
    @Option(names = "--learning-rate", defaultValue = "2e-4", description = "Peak learning rate of AdamW "
            + "(default: ${DEFAULT-VALUE}, a usual LoRA rate; transformers' TrainingArguments default is 5e-5).")
    double learningRate;

    @Option(names = "--num-train-epochs", defaultValue = "3", description = "Epochs, when --max-steps is not set "
            + "(default: ${DEFAULT-VALUE}).")
    double numTrainEpochs;

    @Option(names = "--max-steps", defaultValue = "-1", description = "Optimizer steps; overrides "
            + "--num-train-epochs when positive (default: ${DEFAULT-VALUE}).")
    long maxSteps;

    @Option(names = "--per-device-train-batch-size", defaultValue = "8", description = "Examples per micro-batch "
            + "(default: ${DEFAULT-VALUE}).")
    int perDeviceTrainBatchSize;

    @Option(names = "--per-device-eval-batch-size", defaultValue = "8", description = "Examples per evaluation "
            + "batch (default: ${DEFAULT-VALUE}).")
    int perDeviceEvalBatchSize;

    @Option(names = "--gradient-accumulation-steps", defaultValue = "1", description = "Micro-batches per "
            + "optimizer step (default: ${DEFAULT-VALUE}).")
    int gradientAccumulationSteps;

    @Option(names = "--warmup-ratio", defaultValue = "0", description = "Fraction of the steps with linear warmup "
            + "(default: ${DEFAULT-VALUE}).")
    double warmupRatio;

    @Option(names = "--warmup-steps", defaultValue = "0", description = "Warmup steps; overrides --warmup-ratio "
            + "when positive (default: ${DEFAULT-VALUE}).")
    long warmupSteps;

    @Option(names = "--lr-scheduler-type", defaultValue = "linear", description = "linear, cosine, constant or "
            + "constant_with_warmup (default: ${DEFAULT-VALUE}).")
    String lrSchedulerType;

    @Option(names = "--weight-decay", defaultValue = "0", description = "AdamW weight decay "
            + "(default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--optim", defaultValue = "adamw_torch_fused", description = "Optimizer by transformers' name: "
            + "adamw_torch, adamw_torch_fused, adamw_8bit (= adamw_bnb_8bit), paged_adamw_8bit or paged_adamw_32bit "
            + "(default: ${DEFAULT-VALUE}).")
    String optim;

    @Option(names = "--gradient-checkpointing", arity = "0..1", fallbackValue = "true", defaultValue = "false",
            description = "Keep only each decoder layer's input from the forward pass and recompute the layer in the "
                + "backward pass: less memory, about one more forward pass of time.")
    boolean gradientCheckpointing;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Gradient clipping threshold, 0 for "
            + "none (default: ${DEFAULT-VALUE}).")
    double maxGradNorm;

    @Option(names = "--logging-steps", defaultValue = "10", description = "Log the loss every N steps "
            + "(default: ${DEFAULT-VALUE}; transformers' TrainingArguments default is 500).")
    long loggingSteps;

    @Option(names = "--eval-steps", description = "Evaluate on --eval-data every N steps (default: "
            + "--logging-steps).")
    Long evalSteps;

    @Option(names = "--save-steps", defaultValue = "500", description = "Write output-dir/checkpoint-N every N "
            + "steps (default: ${DEFAULT-VALUE}).")
    long saveSteps;

    @Option(names = "--save-total-limit", description = "Keep at most this many checkpoints (default: all).")
    Integer saveTotalLimit;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of shuffling and dropout "
            + "(default: ${DEFAULT-VALUE}).")
    long seed;

    /** The TrainingArguments; {@code evaluate} turns on evaluation every {@code eval_steps}. */
    TrainingArguments build(Path outputDir, boolean evaluate) {
        try {
            TrainingArguments.Builder b = TrainingArguments.builder(outputDir).learningRate(learningRate)
                    .numTrainEpochs(numTrainEpochs).maxSteps(maxSteps)
                    .perDeviceTrainBatchSize(perDeviceTrainBatchSize).perDeviceEvalBatchSize(perDeviceEvalBatchSize)
                    .gradientAccumulationSteps(gradientAccumulationSteps).warmupRatio(warmupRatio)
                    .warmupSteps(warmupSteps).lrSchedulerType(lrSchedulerType).weightDecay(weightDecay)
                    .maxGradNorm(maxGradNorm).loggingSteps(loggingSteps).saveSteps(saveSteps)
                    .saveTotalLimit(saveTotalLimit).seed(seed).optim(optim)
                    .gradientCheckpointing(gradientCheckpointing);
            if (evaluate) {
                long every = evalSteps != null ? evalSteps : loggingSteps;
                if (every <= 0) {
                    throw new IllegalArgumentException("eval_steps must be > 0, got " + every);
                }
                b.evalSteps(every);
            }
            if (saveTotalLimit != null && saveTotalLimit <= 0) {
                throw new IllegalArgumentException("save_total_limit must be > 0, got " + saveTotalLimit);
            }
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CliException("invalid training options: " + e.getMessage(), e);
        }
    }
}
