package org.peft4j.train;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.data.Batch;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.TokenizedExample;
import org.peft4j.graph.Parameter;
import org.peft4j.models.CausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optimization loop: gradient accumulation, global-norm clipping, the optimizer {@code optim} names (AdamW with
 * decoupled weight decay, none on biases and norm weights: torch's, or bitsandbytes' 8-bit or paged one, see
 * {@link OptimizerNames}) and the learning-rate schedule, over the trainable parameters of a model.
 *
 * <p>Data comes either as pre-collated batches ({@link #train(List)}, cycled in order) or as tokenised examples
 * that the trainer batches itself ({@link #train(List, List, PaddingCollator, Path)}: batches of
 * {@code per_device_train_batch_size}, shuffled every epoch from ({@code seed}, epoch), see {@link DataLoader}).
 *
 * <p>A console progress bar, a JSONL log ({@code output_dir/trainer_log.jsonl}), evaluation every
 * {@code eval_steps} and callbacks come with it.
 *
 * <p>Dropout masks are a function of ({@code seed}, optimizer step, micro-batch) (see
 * {@link TrainStep#dropoutSeed(long, long, int)}), so a run resumed from a checkpoint retraces the uninterrupted
 * run's losses bit for bit, with or without dropout.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    private final CausalLM model;
    private final TrainingArguments args;
    private final OrtRuntime runtime;
    private final List<TrainerCallback> callbacks = new ArrayList<>();
    private ProgressBar progress = new ProgressBar(System.err);
    private LossSpec lossSpec = LossSpec.causalLM();
    private GradientReducer gradientReducer = GradientReducer.LOCAL;

    /**
     * Trains the trainable parameters of {@code model}: a base model (full fine-tuning or whatever is marked
     * trainable) or a PEFT model (its adapters). Every checkpoint folder also gets the model's
     * {@link CausalLM#saveCheckpointFiles checkpoint files}, as transformers' {@code Trainer} calls
     * {@code save_pretrained}: for a PEFT model {@code adapter_model.safetensors}, {@code adapter_config.json} and
     * {@code README.md}, so {@code PeftModel.fromPretrained(base, checkpoint-N)} loads it.
     *
     * @param model the model whose trainable parameters are trained
     * @param args the training settings
     * @param runtime the ONNX Runtime the training sessions run on
     */
    public Trainer(CausalLM model, TrainingArguments args, OrtRuntime runtime) {
        this.model = model;
        this.args = args;
        this.runtime = runtime;
    }

    /**
     * Sets the loss the training steps minimise (default {@link LossSpec#causalLM()}).
     *
     * @param spec the loss
     * @return this trainer
     */
    public Trainer lossSpec(LossSpec spec) {
        this.lossSpec = spec;
        return this;
    }

    /**
     * Sets how a step is combined across data-parallel workers (default: one machine); see {@link GradientReducer}
     * for the contract. The optimizer step gets the summed gradients.
     *
     * @param reducer the cross-worker reduction
     * @return this trainer
     */
    public Trainer gradientReducer(GradientReducer reducer) {
        this.gradientReducer = reducer;
        return this;
    }

    /**
     * Adds a callback.
     *
     * @param callback called at the training events (log, save, evaluation, end)
     * @return this trainer
     */
    public Trainer addCallback(TrainerCallback callback) {
        callbacks.add(callback);
        return this;
    }

    /**
     * Turns the console progress bar (on by default, on standard error) off or on.
     *
     * @param show false to turn the progress bar off
     * @return this trainer
     */
    public Trainer showProgress(boolean show) {
        this.progress = show ? new ProgressBar(System.err) : null;
        return this;
    }

    /**
     * The JSONL log of every logged step and evaluation: {@code output_dir/trainer_log.jsonl}.
     *
     * @return the log file's path
     */
    public Path logFile() {
        return args.outputDir().resolve("trainer_log.jsonl");
    }

    /**
     * Number of optimizer steps for {@code numBatches} micro-batches per epoch.
     *
     * @param numBatches micro-batches per epoch
     * @return {@code max_steps} when set, else the optimizer steps of {@code num_train_epochs} epochs
     */
    public long totalSteps(int numBatches) {
        if (args.maxSteps() > 0) {
            return args.maxSteps();
        }
        long perEpoch = Math.max(1, (numBatches + args.gradientAccumulationSteps() - 1)
                / args.gradientAccumulationSteps());
        return (long) Math.ceil(perEpoch * args.numTrainEpochs());
    }

    /**
     * Trains on the batches (cycled in order) and returns the loss of every optimizer step: as transformers'
     * {@code num_items_in_batch}, the summed loss of its accumulated micro-batches over their total counted tokens
     * (the token-weighted mean of their losses).
     *
     * @param batches the training micro-batches, cycled in order
     * @return the losses of the steps run by this call
     * @throws IllegalStateException naming the step when the loss is NaN or infinite, and the newest checkpoint
     *     whose weights gave a finite loss (kept out of {@code save_total_limit} rotation until a newer one has);
     *     or when the opt-in divergence guard ({@link TrainingArguments#divergenceFactor()}) sees a logged loss
     *     above its factor times the lowest recent one
     */
    public List<Double> train(List<Batch> batches) {
        return train(batches, null);
    }

    /**
     * Trains, continuing from {@code resumeFromCheckpoint} when it is not null: weights, optimizer moments, the
     * step and the data position are restored, so the losses that follow equal those of an uninterrupted run. A
     * checkpoint saved with an {@code optim} whose states mean something else (torch's AdamW, bitsandbytes' 8-bit or
     * 32-bit states) is refused with an {@link IllegalArgumentException} naming both.
     * Checkpoints are written every {@code save_steps} and at the last step (as transformers' save strategy
     * {@code "steps"}) to {@code output_dir/checkpoint-N}, keeping at most {@code save_total_limit}.
     *
     * <p>The run holds an exclusive lock on {@code output_dir} (a file lock on {@code output_dir/.trainer.lock},
     * released when it ends, also by an exception): a second run on the same folder fails with an
     * {@link IllegalStateException} naming it.
     *
     * <p>On resume, {@code trainer_log.jsonl} is cut back to the checkpoint's step first: entries of later steps
     * (logged again by this run) and a half-written last line (a run killed while appending) are dropped.
     *
     * @param batches the training micro-batches, cycled in order
     * @param resumeFromCheckpoint a checkpoint folder to continue from, or null
     * @return the losses of the steps run by this call
     */
    public List<Double> train(List<Batch> batches, Path resumeFromCheckpoint) {
        return train(batches, List.of(), resumeFromCheckpoint);
    }

    /**
     * Trains and, every {@code eval_steps} (when set), evaluates the loss over {@code evalBatches} (the mean of the
     * batches' losses weighted by their number of rows, as transformers' evaluation loop averages over examples).
     *
     * @param evalBatches may be empty or null (no evaluation)
     * @param batches the training micro-batches, cycled in order
     * @param resumeFromCheckpoint a checkpoint folder to continue from, or null
     * @return the losses of the steps run by this call
     */
    public List<Double> train(List<Batch> batches, List<Batch> evalBatches, Path resumeFromCheckpoint) {
        if (evalBatches == null) {
            evalBatches = List.of();
        }
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("no training batches");
        }
        List<Batch> fixed = List.copyOf(batches);
        return run(new Source() {
            @Override
            public int batchesPerEpoch() {
                return fixed.size();
            }

            @Override
            public Batch batch(long cursor) {
                return fixed.get((int) (cursor % fixed.size()));
            }
        }, evalBatches, resumeFromCheckpoint);
    }

    /**
     * Trains on tokenised examples, batched as transformers' {@code Trainer} does: batches of
     * {@code per_device_train_batch_size} padded by {@code collator}, reshuffled every epoch from
     * ({@code seed}, epoch) (see {@link DataLoader}); evaluation every {@code eval_steps} (when set) over
     * {@code evalExamples} in batches of {@code per_device_eval_batch_size}. A resumed run continues the interrupted
     * epoch in the same order.
     *
     * @param evalExamples may be empty or null (no evaluation)
     * @param resumeFromCheckpoint a checkpoint folder to continue from, or null
     * @param examples the tokenised training examples
     * @param collator pads a batch of examples into a {@link Batch}
     * @return the losses of the steps run by this call
     */
    public List<Double> train(List<TokenizedExample> examples, List<TokenizedExample> evalExamples,
            PaddingCollator collator, Path resumeFromCheckpoint) {
        return train(DataLoader.forTraining(examples, collator, args), evalExamples == null || evalExamples.isEmpty()
                ? null
                : DataLoader.forEvaluation(evalExamples, collator, args), resumeFromCheckpoint);
    }

    /**
     * Trains on the batches of {@code trainLoader} (micro-batch {@code c} of the run is
     * {@code trainLoader.batch(c)}) and evaluates on one epoch of {@code evalLoader} every {@code eval_steps}.
     *
     * @param evalLoader may be null (no evaluation)
     * @param resumeFromCheckpoint a checkpoint folder to continue from, or null
     * @param trainLoader the training batches
     * @return the losses of the steps run by this call
     */
    public List<Double> train(DataLoader trainLoader, DataLoader evalLoader, Path resumeFromCheckpoint) {
        return run(new Source() {
            @Override
            public int batchesPerEpoch() {
                return trainLoader.batchesPerEpoch();
            }

            @Override
            public Batch batch(long cursor) {
                return trainLoader.batch(cursor);
            }
        }, evalLoader == null ? List.of() : evalLoader.epoch(0), resumeFromCheckpoint);
    }

    /** Where the micro-batches come from: batch {@code cursor} of the whole run. */
    private interface Source {
        int batchesPerEpoch();

        Batch batch(long cursor);
    }

    private List<Double> run(Source batches, List<Batch> evalBatches, Path resumeFromCheckpoint) {
        if (args.gradientCheckpointing()) {
            // as transformers' Trainer: gradient_checkpointing=True enables it on the model, never disables it
            model.baseModel().gradientCheckpointingEnable();
        }
        try (OutputDirLock lock = OutputDirLock.acquire(args.outputDir());
                TrainStep step = new TrainStep(model, runtime, lossSpec)) {
            return run(step, batches, evalBatches, resumeFromCheckpoint);
        }
    }

    private List<Double> run(TrainStep step, Source batches, List<Batch> evalBatches, Path resumeFromCheckpoint) {
        Map<String, Parameter> params = step.trainable();
        long total = totalSteps(batches.batchesPerEpoch());
        try (OptimizerStep optimizer = new OptimizerStep(params, model.decayParameterNames(),
                embeddingWeightNames(model, params), args, total)) {
            return run(step, optimizer, total, batches, evalBatches, resumeFromCheckpoint);
        }
    }

    /**
     * The trainable parameters that are embedding weights: transformers keeps their states in 32 bits under an
     * 8-bit bitsandbytes optimizer ({@code register_module_override(module, "weight", {"optim_bits": 32})} for every
     * {@code nn.Embedding}).
     */
    static java.util.Set<String> embeddingWeightNames(CausalLM model, Map<String, Parameter> params) {
        java.util.Set<Parameter> embeddings = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (org.peft4j.nn.Module m : model.baseModel().namedModules().values()) {
            if (m instanceof org.peft4j.nn.Embedding) {
                embeddings.addAll(m.directParameters().values());
            }
        }
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        params.forEach((k, p) -> {
            if (embeddings.contains(p)) {
                out.add(k);
            }
        });
        return out;
    }

    private List<Double> run(TrainStep step, OptimizerStep optimizer, long total, Source batches,
            List<Batch> evalBatches, Path resumeFromCheckpoint) {
        Map<String, Parameter> params = step.trainable();
        List<Double> losses = new ArrayList<>();
        JsonArray history = new JsonArray();
        long cursor = 0;
        long start = 0;
        if (resumeFromCheckpoint != null) {
            Checkpoint c = readCheckpoint(resumeFromCheckpoint);
            c.restoreOptimizer(optimizer.optimizer(), resumeFromCheckpoint);
            for (Map.Entry<String, Tensor> e : c.weights.entrySet()) {
                Parameter p = params.get(e.getKey());
                if (p == null) {
                    throw new IllegalArgumentException(resumeFromCheckpoint + ": checkpoint weight '" + e.getKey()
                            + "' is not a trainable parameter of the model");
                }
                Tensor saved = e.getValue();
                if (saved.dtype() != p.dtype() || !java.util.Arrays.equals(saved.shape(), p.shape())) {
                    throw new IllegalArgumentException(resumeFromCheckpoint + ": checkpoint weight '" + e.getKey()
                            + "' is " + saved + ", the model's is " + p);
                }
                p.data().write(b -> b.put(saved.data()));
            }
            cursor = c.batchCursor;
            start = c.globalStep;
            history = c.logHistory;
            try {
                TrainerLog.truncate(logFile(), start);
            } catch (IOException e) {
                throw org.peft4j.FileAccessException.wrapping("could not repair " + logFile() + " for resuming at step " + start, logFile(), e);
            }
        }
        // transformers logs the mean training loss since the previous log, not the loss of the logging step
        double lossSinceLog = 0;
        GoodCheckpoints checkpoints = new GoodCheckpoints(args.outputDir(), args.saveTotalLimit(),
                resumeFromCheckpoint);
        long lastLogged = start;
        for (long s = start; s < total; s++) {
            Batch[] micro = new Batch[args.gradientAccumulationSteps()];
            for (int k = 0; k < micro.length; k++) {
                micro[k] = batches.batch(cursor++);
            }
            Map<String, float[]> acc = zeroGradients(params);
            double loss = accumulate(step, micro, s, acc);
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("loss is " + loss + " at step " + (s + 1) + "; training stopped"
                        + checkpoints.advice());
            }
            try {
                checkpoints.finiteLoss();
            } catch (IOException e) {
                throw org.peft4j.FileAccessException.wrapping("could not rotate the checkpoints in " + args.outputDir(), args.outputDir(), e);
            }
            gradientReducer.reduce(acc);
            double lr = optimizer.apply(s, acc);
            for (TrainerCallback cb : callbacks) {
                cb.onOptimizerStep(s + 1, params, acc);
            }
            losses.add(loss);
            lossSinceLog += loss;
            List<TrainerCallback> all = new ArrayList<>(callbacks);
            if (progress != null) {
                all.add(progress);
            }
            for (TrainerCallback cb : all) {
                cb.onStepEnd(s + 1, total, loss, lr);
            }
            if ((s + 1) % args.loggingSteps() == 0) {
                double mean = lossSinceLog / (s + 1 - lastLogged);
                lossSinceLog = 0;
                lastLogged = s + 1;
                LOG.debug("step {}/{} loss {} lr {}", s + 1, total, String.format("%.4f", mean), lr);
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("step", s + 1);
                entry.put("loss", mean);
                entry.put("learning_rate", lr);
                Double lowest = lowestLoggedLoss(history, args.divergenceWindow());
                log(entry, history);
                checkDivergence(mean, s + 1, lowest);
            }
            if (args.evalSteps() != null && !evalBatches.isEmpty() && (s + 1) % args.evalSteps() == 0) {
                double evalLoss = evaluate(step, evalBatches);
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("step", s + 1);
                entry.put("eval_loss", evalLoss);
                log(entry, history);
                for (TrainerCallback cb : callbacks) {
                    cb.onEvaluate(s + 1, evalLoss);
                }
            }
            // as transformers' DefaultFlowCallback (save_strategy "steps"): every save_steps and at the last step
            if ((s + 1) % args.saveSteps() == 0 || s + 1 >= total) {
                saveCheckpoint(checkpoints, Checkpoint.of(s + 1, total, cursor, optimizer.optimizer(),
                        trainableData(params), history));
            }
        }
        try {
            checkpoints.end();
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not rotate the checkpoints in " + args.outputDir(), args.outputDir(), e);
        }
        return losses;
    }

    /**
     * Runs the micro-batches of optimizer step {@code s} and adds their gradients into {@code acc}: as transformers
     * with {@code num_items_in_batch}, the step's loss is sum(nll) over all its micro-batches (on every worker)
     * divided by their total counted tokens ({@code labels[..., 1:] != -100}), so micro-batch k weighs
     * tokens_k / tokens, not 1 / accumulation. When the model's loss also scores the first label (prompt learning, as
     * PEFT's forward under transformers' Trainer) the numerator covers it too while the count does not.
     *
     * @return the step's loss, summed across workers
     */
    private double accumulate(TrainStep step, Batch[] micro, long s, Map<String, float[]> acc) {
        long localTokens = 0;
        for (Batch b : micro) {
            localTokens += b.countedTokens();
        }
        long tokens = gradientReducer.sum(localTokens);
        double loss = 0;
        for (int k = 0; k < micro.length; k++) {
            long counted = micro[k].countedTokens();
            if (progress != null) {
                progress.addTokens(counted);
            }
            // the positions the step's mean loss ran over: with prompt learning the first label is scored too
            // (PEFT's forward), while num_items_in_batch counts labels[..., 1:] only (transformers'
            // _loss_shifts_labels): the micro-batch adds sum(nll over every scored position) / tokens
            long scored = step.scoresFirstLabel() ? labelTokens(micro[k]) : counted;
            if (scored == 0 && tokens > 0) {
                continue; // adds sum(nll) = 0 and no gradient; its own mean loss would be 0 / 0
            }
            double share = (double) scored / tokens; // NaN when no token counts: the loss is NaN, as in torch
            TrainStep.Output out = step.run(micro[k], TrainStep.dropoutSeed(args.seed(), s, k));
            loss += out.loss() * share;
            for (Map.Entry<String, Tensor> e : out.gradients().entrySet()) {
                float[] g = e.getValue().toFloatArray();
                float[] a = acc.get(e.getKey());
                for (int i = 0; i < g.length; i++) {
                    a[i] += g[i] * share;
                }
            }
        }
        return gradientReducer.sum(loss);
    }

    /** {@code labels != -100} over every position, the first included. */
    private static long labelTokens(Batch b) {
        long n = 0;
        for (long l : b.labels().toLongArray()) {
            if (l != Batch.IGNORE_INDEX) {
                n++;
            }
        }
        return n;
    }

    /** The evaluation loss: the mean of the batches' losses weighted by their rows, as transformers averages. */
    private static double evaluate(TrainStep step, List<Batch> evalBatches) {
        double sum = 0;
        long rows = 0;
        for (Batch b : evalBatches) {
            sum += step.evaluate(b) * b.inputIds().dim(0);
            rows += b.inputIds().dim(0);
        }
        return sum / rows;
    }

    /** The opt-in divergence guard: throws when {@code mean} exceeds the factor times the lowest recent loss. */
    private void checkDivergence(double mean, long step, Double lowest) {
        if (args.divergenceFactor() != null && lowest != null && mean > args.divergenceFactor() * lowest) {
            throw new IllegalStateException(String.format(java.util.Locale.ROOT, "loss %.4g at step %d is more "
                    + "than divergence_factor %s times the lowest of the last %d logged losses (%.4g): training is "
                    + "diverging and was stopped; lower the learning_rate or resume from an earlier checkpoint",
                    mean, step, args.divergenceFactor(), args.divergenceWindow(), lowest));
        }
    }

    /** The lowest of the last {@code window} training losses in the log history, or null when none is logged. */
    static Double lowestLoggedLoss(JsonArray history, int window) {
        Double lowest = null;
        int seen = 0;
        for (int i = history.size() - 1; i >= 0 && seen < window; i--) {
            JsonObject e = history.get(i).getAsJsonObject();
            if (e.has("loss")) {
                double l = e.get("loss").getAsDouble();
                lowest = lowest == null ? l : Math.min(lowest, l);
                seen++;
            }
        }
        return lowest;
    }

    private void log(Map<String, Object> entry, JsonArray history) {
        JsonObject json = new JsonObject();
        entry.forEach((k, v) -> json.addProperty(k, (Number) v));
        history.add(json);
        try {
            java.nio.file.Files.createDirectories(args.outputDir());
            java.nio.file.Files.writeString(logFile(), json + "\n", java.nio.charset.StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not append to " + logFile(), logFile(), e);
        }
        for (TrainerCallback cb : callbacks) {
            cb.onLog(entry);
        }
    }

    /** A zero gradient for every parameter (a worker whose micro-batches count no token still takes part). */
    private static Map<String, float[]> zeroGradients(Map<String, Parameter> params) {
        Map<String, float[]> out = new LinkedHashMap<>();
        params.forEach((k, p) -> out.put(k, new float[Math.toIntExact(p.numel())]));
        return out;
    }

    private static Map<String, Tensor> trainableData(Map<String, Parameter> params) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        params.forEach((k, p) -> out.put(k, p.data()));
        return out;
    }

    private void saveCheckpoint(GoodCheckpoints checkpoints, Checkpoint c) {
        try {
            Path dir = c.write(args.outputDir(), model::saveCheckpointFiles);
            checkpoints.saved(dir);
            LOG.info("saved {}", dir);
            for (TrainerCallback cb : callbacks) {
                cb.onSave(c.globalStep, dir);
            }
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not save the checkpoint of step " + c.globalStep + " in "
                    + args.outputDir(), args.outputDir(), e);
        }
    }

    private static Checkpoint readCheckpoint(Path dir) {
        try {
            return Checkpoint.read(dir);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.wrapping("could not read the checkpoint " + dir, dir, e);
        }
    }
}
