package org.peft4j.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Module;
import org.peft4j.nn.RMSNorm;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The optimization loop: gradient accumulation, global-norm clipping, AdamW with decoupled weight decay (none on
 * biases and norm weights) and the learning-rate schedule, over the trainable parameters of a model.
 *
 * <p>Not yet here (see the training issue): checkpoints and resume, the progress bar, the JSONL log, evaluation
 * and callbacks.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    private final PreTrainedModel model;
    private final TrainingArguments args;
    private final OrtRuntime runtime;

    public Trainer(PreTrainedModel model, TrainingArguments args, OrtRuntime runtime) {
        this.model = model;
        this.args = args;
        this.runtime = runtime;
    }

    /** Number of optimizer steps for {@code numBatches} micro-batches per epoch. */
    public long totalSteps(int numBatches) {
        if (args.maxSteps() > 0) {
            return args.maxSteps();
        }
        long perEpoch = Math.max(1, (numBatches + args.gradientAccumulationSteps() - 1)
                / args.gradientAccumulationSteps());
        return (long) Math.ceil(perEpoch * args.numTrainEpochs());
    }

    /**
     * Trains on the batches (cycled in order) and returns the loss of every optimizer step (the mean over its
     * accumulated micro-batches).
     *
     * @throws IllegalStateException naming the step when the loss is NaN or infinite
     */
    public List<Double> train(List<Batch> batches) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("no training batches");
        }
        TrainStep step = new TrainStep(model, runtime);
        Map<String, Parameter> params = step.trainable();
        Map<String, Double> decay = new LinkedHashMap<>();
        for (String name : params.keySet()) {
            decay.put(name, decays(name) ? args.weightDecay() : 0.0);
            makeWritable(params.get(name));
        }
        long total = totalSteps(batches.size());
        LrScheduler schedule = new LrScheduler(args.lrSchedulerType(),
                LrScheduler.warmupSteps(args.warmupSteps(), args.warmupRatio(), total), total);
        AdamW adam = new AdamW(args.adamBeta1(), args.adamBeta2(), args.adamEpsilon());
        List<Double> losses = new ArrayList<>();
        int cursor = 0;
        for (long s = 0; s < total; s++) {
            Map<String, float[]> acc = new LinkedHashMap<>();
            double loss = 0;
            int accum = args.gradientAccumulationSteps();
            for (int k = 0; k < accum; k++) {
                TrainStep.Output out = step.run(batches.get(cursor++ % batches.size()));
                loss += out.loss() / accum;
                for (Map.Entry<String, Tensor> e : out.gradients().entrySet()) {
                    float[] g = e.getValue().toFloatArray();
                    float[] a = acc.computeIfAbsent(e.getKey(), n -> new float[g.length]);
                    for (int i = 0; i < g.length; i++) {
                        a[i] += g[i] / accum;
                    }
                }
            }
            if (!Double.isFinite(loss)) {
                throw new IllegalStateException("loss is " + loss + " at step " + (s + 1) + "; training stopped");
            }
            if (args.maxGradNorm() > 0) {
                AdamW.clipGradNorm(acc.values(), args.maxGradNorm());
            }
            double lr = args.learningRate() * schedule.factor(s);
            adam.beginStep();
            for (Map.Entry<String, Parameter> e : params.entrySet()) {
                Tensor data = e.getValue().data();
                float[] values = data.toFloatArray();
                adam.update(e.getKey(), values, acc.get(e.getKey()), lr, decay.get(e.getKey()));
                data.data().asFloatBuffer().put(values);
            }
            losses.add(loss);
            if ((s + 1) % args.loggingSteps() == 0) {
                LOG.info("step {}/{} loss {} lr {}", s + 1, total, String.format("%.4f", loss), lr);
            }
        }
        return losses;
    }

    /** transformers: no weight decay for biases and the weights of normalization layers. */
    private boolean decays(String name) {
        if (name.endsWith("bias")) {
            return false;
        }
        int dot = name.lastIndexOf('.');
        Module owner = dot < 0 ? model : model.getSubmodule(name.substring(0, dot));
        return !(owner instanceof RMSNorm || owner instanceof LayerNorm);
    }

    /** Trainable weights are updated in place: give read-only (memory-mapped) ones an owned copy first. */
    private static void makeWritable(Parameter p) {
        if (p.dtype() != DType.F32) {
            throw new IllegalArgumentException("training needs float32 trainable parameters, got " + p);
        }
        if (p.data().data().isReadOnly()) {
            p.setData(p.data().copy());
        }
    }
}
