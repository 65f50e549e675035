package org.peft4j.train;

import java.nio.file.Path;

/**
 * Training settings with transformers' {@code TrainingArguments} names (camelCase here, snake_case in JSON) and
 * defaults: {@code learning_rate} 5e-5, {@code num_train_epochs} 3, {@code max_steps} -1, batch sizes 8,
 * {@code lr_scheduler_type} linear, {@code optim} "adamw_torch_fused", AdamW betas (0.9, 0.999), epsilon 1e-8,
 * {@code max_grad_norm} 1.0, {@code logging_steps} and {@code save_steps} 500, {@code seed} 42.
 */
public final class TrainingArguments {
    private final Path outputDir;
    private final double learningRate;
    private final double numTrainEpochs;
    private final long maxSteps;
    private final int perDeviceTrainBatchSize;
    private final int perDeviceEvalBatchSize;
    private final int gradientAccumulationSteps;
    private final long warmupSteps;
    private final double warmupRatio;
    private final LrScheduler.Type lrSchedulerType;
    private final double weightDecay;
    private final OptimizerNames optim;
    private final String optimArgs;
    private final double adamBeta1;
    private final double adamBeta2;
    private final double adamEpsilon;
    private final double maxGradNorm;
    private final long loggingSteps;
    private final Long evalSteps;
    private final long saveSteps;
    private final Integer saveTotalLimit;
    private final long seed;
    private final Double divergenceFactor;
    private final int divergenceWindow;
    private final boolean gradientCheckpointing;

    private TrainingArguments(Builder b) {
        this.outputDir = b.outputDir;
        this.learningRate = b.learningRate;
        this.numTrainEpochs = b.numTrainEpochs;
        this.maxSteps = b.maxSteps;
        this.perDeviceTrainBatchSize = b.perDeviceTrainBatchSize;
        this.perDeviceEvalBatchSize = b.perDeviceEvalBatchSize;
        this.gradientAccumulationSteps = b.gradientAccumulationSteps;
        this.warmupSteps = b.warmupSteps;
        this.warmupRatio = b.warmupRatio;
        this.lrSchedulerType = b.lrSchedulerType;
        this.weightDecay = b.weightDecay;
        this.optim = b.optim;
        this.optimArgs = b.optimArgs;
        this.adamBeta1 = b.adamBeta1;
        this.adamBeta2 = b.adamBeta2;
        this.adamEpsilon = b.adamEpsilon;
        this.maxGradNorm = b.maxGradNorm;
        this.loggingSteps = b.loggingSteps;
        this.evalSteps = b.evalSteps;
        this.saveSteps = b.saveSteps;
        this.saveTotalLimit = b.saveTotalLimit;
        this.seed = b.seed;
        this.divergenceFactor = b.divergenceFactor;
        this.divergenceWindow = b.divergenceWindow;
        this.gradientCheckpointing = b.gradientCheckpointing;
    }

    /**
     * Starts a builder with transformers' defaults.
     *
     * @param outputDir {@code output_dir}, where checkpoints, {@code trainer_state.json} and the log are written
     *     (required)
     * @return a new builder
     */
    public static Builder builder(Path outputDir) {
        return new Builder(outputDir);
    }

    /**
     * {@code output_dir}: where checkpoints ({@code checkpoint-<step>}), {@code trainer_state.json} and the log go.
     *
     * @return the output folder
     */
    public Path outputDir() {
        return outputDir;
    }

    /**
     * {@code learning_rate}: the peak learning rate of AdamW (default 5e-5), before warmup and decay.
     *
     * @return the learning rate
     */
    public double learningRate() {
        return learningRate;
    }

    /**
     * {@code num_train_epochs} (default 3.0): passes over the training data when {@code max_steps} is unset; a fraction
     * trains part of the last epoch.
     *
     * @return the number of epochs
     */
    public double numTrainEpochs() {
        return numTrainEpochs;
    }

    /**
     * {@code max_steps} (default -1, unset): the number of optimizer steps; when positive it overrides
     * {@code num_train_epochs}.
     *
     * @return the step count, or -1
     */
    public long maxSteps() {
        return maxSteps;
    }

    /**
     * {@code per_device_train_batch_size} (default 8): examples per micro-batch in training.
     *
     * @return the batch size
     */
    public int perDeviceTrainBatchSize() {
        return perDeviceTrainBatchSize;
    }

    /**
     * {@code per_device_eval_batch_size} (default 8): examples per batch in evaluation.
     *
     * @return the batch size
     */
    public int perDeviceEvalBatchSize() {
        return perDeviceEvalBatchSize;
    }

    /**
     * {@code gradient_accumulation_steps} (default 1): micro-batches whose gradients are summed into one optimizer
     * step.
     *
     * @return the number of micro-batches per step
     */
    public int gradientAccumulationSteps() {
        return gradientAccumulationSteps;
    }

    /**
     * {@code warmup_steps} (default 0): optimizer steps of linear warmup from 0 to the learning rate; when positive it
     * overrides {@code warmup_ratio}.
     *
     * @return the warmup steps
     */
    public long warmupSteps() {
        return warmupSteps;
    }

    /**
     * {@code warmup_ratio} (default 0.0): the fraction of all optimizer steps used for linear warmup, in [0, 1].
     *
     * @return the warmup ratio
     */
    public double warmupRatio() {
        return warmupRatio;
    }

    /**
     * {@code lr_scheduler_type} (default linear): how the learning rate decays after warmup.
     *
     * @return the schedule
     */
    public LrScheduler.Type lrSchedulerType() {
        return lrSchedulerType;
    }

    /**
     * {@code weight_decay} (default 0.0): AdamW's decoupled weight decay, applied to the trainable parameters.
     *
     * @return the weight decay
     */
    public double weightDecay() {
        return weightDecay;
    }

    /**
     * {@code optim}: the optimizer, by transformers' name (default {@code adamw_torch_fused}, transformers' default
     * with torch &gt;= 2.8). See {@link OptimizerNames} for the ones peft4j implements.
     *
     * @return the optimizer
     */
    public OptimizerNames optim() {
        return optim;
    }

    /**
     * {@code optim_args}: optional {@code "key=value,key2=value2"} arguments for optimizers that read them, or null.
     * As in transformers, the AdamW optimizers ignore them.
     *
     * @return the arguments string, or null
     */
    public String optimArgs() {
        return optimArgs;
    }

    /**
     * {@link #optimArgs()} parsed as transformers' {@code _parse_optim_args} does (spaces dropped).
     *
     * @return the arguments by key, empty when none
     */
    public java.util.Map<String, String> optimArgsMap() {
        return parseOptimArgs(optimArgs);
    }

    static java.util.Map<String, String> parseOptimArgs(String s) {
        java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
        if (s == null || s.isEmpty()) {
            return out;
        }
        for (String mapping : s.replace(" ", "").split(",", -1)) {
            String[] kv = mapping.split("=", -1);
            if (kv.length != 2) {
                throw new IllegalArgumentException("optim_args must be comma-separated key=value pairs, got '"
                        + mapping + "' in '" + s + "'");
            }
            out.put(kv[0], kv[1]);
        }
        return out;
    }

    /**
     * {@code adam_beta1} (default 0.9): AdamW's decay rate of the first moment.
     *
     * @return beta1
     */
    public double adamBeta1() {
        return adamBeta1;
    }

    /**
     * {@code adam_beta2} (default 0.999): AdamW's decay rate of the second moment.
     *
     * @return beta2
     */
    public double adamBeta2() {
        return adamBeta2;
    }

    /**
     * {@code adam_epsilon} (default 1e-8): AdamW's denominator term.
     *
     * @return epsilon
     */
    public double adamEpsilon() {
        return adamEpsilon;
    }

    /**
     * {@code max_grad_norm} (default 1.0): the global L2 norm gradients are clipped to; 0 disables clipping.
     *
     * @return the clipping threshold
     */
    public double maxGradNorm() {
        return maxGradNorm;
    }

    /**
     * {@code logging_steps}: a training log entry every this many optimizer steps, whose {@code loss} is the mean loss
     * of the steps since the previous entry (as transformers logs it).
     *
     * @return the logging interval in optimizer steps
     */
    public long loggingSteps() {
        return loggingSteps;
    }

    /**
     * Evaluation interval in steps, or null (no evaluation during training).
     *
     * @return the evaluation interval in optimizer steps, or null
     */
    public Long evalSteps() {
        return evalSteps;
    }

    /**
     * {@code save_steps} (default 500): a checkpoint is saved every this many optimizer steps (and at the end).
     *
     * @return the save interval in steps
     */
    public long saveSteps() {
        return saveSteps;
    }

    /**
     * How many checkpoints to keep, or null (all).
     *
     * @return the number of checkpoints kept, or null for all
     */
    public Integer saveTotalLimit() {
        return saveTotalLimit;
    }

    /**
     * {@code seed} (default 42): seeds the data order, dropout and the adapter's random initialisation.
     *
     * @return the seed
     */
    public long seed() {
        return seed;
    }

    /**
     * The divergence guard (a peft4j addition, off by default: null): training stops when a logged loss exceeds this
     * factor times the lowest of the previous {@link #divergenceWindow()} logged losses. It acts on the log entries
     * of {@code logging_steps}.
     *
     * @return the factor, or null when the guard is off
     */
    public Double divergenceFactor() {
        return divergenceFactor;
    }

    /**
     * How many previous logged losses the divergence guard compares with (default 10).
     *
     * @return the number of previous logged losses compared with
     */
    public int divergenceWindow() {
        return divergenceWindow;
    }

    /**
     * transformers' {@code gradient_checkpointing} (default false): when true, the {@link Trainer} calls the model's
     * {@code gradientCheckpointingEnable()} before training, so each step keeps only the decoder layers' inputs and
     * recomputes their activations in the backward pass (less memory, about one more forward pass of time).
     *
     * @return whether gradient checkpointing is on
     */
    public boolean gradientCheckpointing() {
        return gradientCheckpointing;
    }

    /** Builder for {@link TrainingArguments}; {@code output_dir} is required. */
    public static final class Builder {
        private final Path outputDir;
        private double learningRate = 5e-5;
        private double numTrainEpochs = 3.0;
        private long maxSteps = -1;
        private int perDeviceTrainBatchSize = 8;
        private int perDeviceEvalBatchSize = 8;
        private int gradientAccumulationSteps = 1;
        private long warmupSteps;
        private double warmupRatio;
        private LrScheduler.Type lrSchedulerType = LrScheduler.Type.LINEAR;
        private double weightDecay;
        private OptimizerNames optim = OptimizerNames.DEFAULT;
        private String optimArgs;
        private double adamBeta1 = 0.9;
        private double adamBeta2 = 0.999;
        private double adamEpsilon = 1e-8;
        private double maxGradNorm = 1.0;
        private long loggingSteps = 500;
        private Long evalSteps;
        private long saveSteps = 500;
        private Integer saveTotalLimit;
        private long seed = 42;
        private Double divergenceFactor;
        private int divergenceWindow = 10;
        private boolean gradientCheckpointing;

        private Builder(Path outputDir) {
            this.outputDir = java.util.Objects.requireNonNull(outputDir, "output_dir");
        }

        /**
         * Sets {@code learning_rate} (default 5e-5).
         *
         * @param v the peak learning rate, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder learningRate(double v) {
            this.learningRate = positive("learning_rate", v);
            return this;
        }

        /**
         * Sets {@code num_train_epochs} (default 3.0).
         *
         * @param v the number of epochs, positive (a fraction trains part of the last one)
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder numTrainEpochs(double v) {
            this.numTrainEpochs = positive("num_train_epochs", v);
            return this;
        }

        /**
         * A positive number of optimizer steps overrides {@code num_train_epochs}; -1 means unset.
         *
         * @param v {@code max_steps}: the number of optimizer steps, or -1 (default) to train {@code num_train_epochs}
         * @return this builder
         */
        public Builder maxSteps(long v) {
            this.maxSteps = v;
            return this;
        }

        /**
         * Sets {@code per_device_train_batch_size} (default 8).
         *
         * @param v examples per training micro-batch, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder perDeviceTrainBatchSize(int v) {
            this.perDeviceTrainBatchSize = (int) positive("per_device_train_batch_size", v);
            return this;
        }

        /**
         * Sets {@code per_device_eval_batch_size} (default 8).
         *
         * @param v examples per evaluation batch, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder perDeviceEvalBatchSize(int v) {
            this.perDeviceEvalBatchSize = (int) positive("per_device_eval_batch_size", v);
            return this;
        }

        /**
         * Sets {@code gradient_accumulation_steps} (default 1).
         *
         * @param v micro-batches per optimizer step, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder gradientAccumulationSteps(int v) {
            this.gradientAccumulationSteps = (int) positive("gradient_accumulation_steps", v);
            return this;
        }

        /**
         * Sets {@code warmup_steps} (default 0); when positive it overrides {@code warmup_ratio}.
         *
         * @param v optimizer steps of linear warmup, not negative
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is negative
         */
        public Builder warmupSteps(long v) {
            this.warmupSteps = (long) nonNegative("warmup_steps", v);
            return this;
        }

        /**
         * Sets {@code warmup_ratio} (default 0.0).
         *
         * @param v the fraction of all optimizer steps used for warmup, in [0, 1]
         * @return this builder
         * @throws IllegalArgumentException outside [0, 1], with transformers' message
         */
        public Builder warmupRatio(double v) {
            if (v < 0 || v > 1) {
                throw new IllegalArgumentException("warmup_ratio must lie in range [0,1], got " + v);
            }
            this.warmupRatio = v;
            return this;
        }

        /**
         * Sets {@code lr_scheduler_type} by transformers' name (default {@code "linear"}; also {@code "cosine"},
         * {@code "constant"}, {@code "constant_with_warmup"}, ...).
         *
         * @param v the scheduler name
         * @return this builder
         * @throws IllegalArgumentException for a name that is not a known scheduler
         */
        public Builder lrSchedulerType(String v) {
            this.lrSchedulerType = LrScheduler.Type.parse(v);
            return this;
        }

        /**
         * Sets {@code weight_decay} (default 0.0).
         *
         * @param v AdamW's decoupled weight decay, not negative
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is negative
         */
        public Builder weightDecay(double v) {
            this.weightDecay = nonNegative("weight_decay", v);
            return this;
        }

        /**
         * {@code optim} by transformers' name.
         *
         * @param v the optimizer name, such as {@code "adamw_torch"}
         * @return this builder
         * @throws IllegalArgumentException for a name transformers does not know, with its message ("{@code X is
         *     not a valid OptimizerNames, please select one of [...]}"), or one peft4j does not implement
         *     ("{@code Trainer cannot instantiate unsupported optimizer: X}", with the supported names)
         */
        public Builder optim(String v) {
            return optim(OptimizerNames.of(v));
        }

        /**
         * {@code optim}; see {@link #optim(String)}.
         *
         * @param v the optimizer
         * @return this builder
         */
        public Builder optim(OptimizerNames v) {
            this.optim = v.requireSupported();
            return this;
        }

        /**
         * {@code optim_args}, {@code "key=value,..."} (null for none).
         *
         * @param v the arguments, or null
         * @return this builder
         * @throws IllegalArgumentException if it is not comma-separated key=value pairs
         */
        public Builder optimArgs(String v) {
            parseOptimArgs(v);
            this.optimArgs = v;
            return this;
        }

        /**
         * Sets {@code adam_beta1} (default 0.9).
         *
         * @param v the first-moment decay rate
         * @return this builder
         */
        public Builder adamBeta1(double v) {
            this.adamBeta1 = v;
            return this;
        }

        /**
         * Sets {@code adam_beta2} (default 0.999).
         *
         * @param v the second-moment decay rate
         * @return this builder
         */
        public Builder adamBeta2(double v) {
            this.adamBeta2 = v;
            return this;
        }

        /**
         * Sets {@code adam_epsilon} (default 1e-8).
         *
         * @param v the term added to AdamW's denominator
         * @return this builder
         */
        public Builder adamEpsilon(double v) {
            this.adamEpsilon = v;
            return this;
        }

        /**
         * Global-norm clipping threshold; 0 disables clipping.
         *
         * @param v {@code max_grad_norm} (default 1.0), not negative
         * @return this builder
         */
        public Builder maxGradNorm(double v) {
            this.maxGradNorm = nonNegative("max_grad_norm", v);
            return this;
        }

        /**
         * Sets {@code logging_steps} (default 500): the loss is logged every this many optimizer steps.
         *
         * @param v the logging interval, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder loggingSteps(long v) {
            this.loggingSteps = (long) positive("logging_steps", v);
            return this;
        }

        /**
         * Sets {@code eval_steps} (default null: no evaluation during training): evaluation runs every this many
         * optimizer steps.
         *
         * @param v the evaluation interval, or null
         * @return this builder
         */
        public Builder evalSteps(Long v) {
            this.evalSteps = v;
            return this;
        }

        /**
         * Sets {@code save_steps} (default 500): a checkpoint every this many optimizer steps.
         *
         * @param v the save interval, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code v} is not positive
         */
        public Builder saveSteps(long v) {
            this.saveSteps = (long) positive("save_steps", v);
            return this;
        }

        /**
         * Sets {@code save_total_limit} (default null: keep all): the number of checkpoints kept; older ones are
         * deleted.
         *
         * @param v the number of checkpoints to keep, or null
         * @return this builder
         */
        public Builder saveTotalLimit(Integer v) {
            this.saveTotalLimit = v;
            return this;
        }

        /**
         * Sets {@code seed} (default 42): seeds the data order, dropout and the adapter's random initialisation.
         *
         * @param v the seed
         * @return this builder
         */
        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        /**
         * Turns the divergence guard on (a factor above 1) or off (null): training stops when a logged loss exceeds
         * {@code factor} times the lowest of the previous {@code divergence_window} logged losses.
         *
         * @param factor the factor, above 1, or null to turn the guard off (default)
         * @return this builder
         */
        public Builder divergenceFactor(Double factor) {
            if (factor != null && !(factor > 1)) {
                throw new IllegalArgumentException("divergence_factor must be > 1 (or null: off), got " + factor);
            }
            this.divergenceFactor = factor;
            return this;
        }

        /**
         * How many previous logged losses the divergence guard compares with (default 10).
         *
         * @param v the window, positive
         * @return this builder
         */
        public Builder divergenceWindow(int v) {
            this.divergenceWindow = (int) positive("divergence_window", v);
            return this;
        }

        /**
         * transformers' {@code gradient_checkpointing} (default false).
         *
         * @param v true to recompute the decoder layers' activations in the backward pass
         * @return this builder
         */
        public Builder gradientCheckpointing(boolean v) {
            this.gradientCheckpointing = v;
            return this;
        }

        /**
         * Builds the arguments.
         *
         * @return the immutable settings (thread-safe)
         */
        public TrainingArguments build() {
            return new TrainingArguments(this);
        }

        private static double positive(String name, double v) {
            if (!(v > 0)) {
                throw new IllegalArgumentException(name + " must be > 0, got " + v);
            }
            return v;
        }

        private static double nonNegative(String name, double v) {
            if (!(v >= 0)) {
                throw new IllegalArgumentException(name + " must be >= 0, got " + v);
            }
            return v;
        }
    }
}
