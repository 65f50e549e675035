package org.peft4j.train;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.autodiff.CheckpointedGraph;
import org.peft4j.data.Batch;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLM;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Forward, loss and backward in one ONNX Runtime session, for any {@link CausalLM} (a base model or a PEFT model).
 * Inputs are the batch and the trainable parameters; outputs are the loss and one gradient per trainable parameter.
 * Frozen weights stay initializers (shared without copies) and get no gradient nodes.
 *
 * <p>The trainable set and the graph are fixed when the step is built. Before every run the step checks that the
 * model would still emit the same graph over the same trainable set ({@link CausalLM#graphState()}); after adapters
 * were enabled, disabled, switched, merged or added, or a parameter's trainable flag changed, it refuses to run with a
 * clear message (build a new step).
 *
 * <p>When the model has dropout, the training graph also has the int64 scalar input {@value Graph#DROPOUT_SEED}
 * (see {@link org.peft4j.nn.Dropout}); {@link #run(Batch, long)} feeds it, so the masks are a function of the value
 * given there and nothing else.
 *
 * <p>With gradient checkpointing ({@link org.peft4j.models.PreTrainedModel#gradientCheckpointingEnable()} on the base
 * model when the step is built, transformers' {@code gradient_checkpointing}), the forward graph is cut at the
 * decoder's {@linkplain Graph#checkpoint checkpoint marks} ({@link CheckpointedGraph}): the forward runs segment by
 * segment keeping only the values that cross segments (each layer's input, masks, rotary tables), and the backward
 * recomputes each segment from its input, last segment first; loss and gradients are those of the step without it.
 * One session per segment graph, compiled on the first run, without ONNX Runtime's per-session CPU arena (so the
 * sessions share one peak instead of each keeping its own). Without checkpointing the step is one session as before.
 *
 * <p>Holds leases on its compiled sessions: {@link #close()} releases them. Not thread-safe.
 */
public final class TrainStep implements AutoCloseable {
    private final CausalLM model;
    private final OrtRuntime runtime;
    private final LossSpec lossSpec;
    private final Map<String, Parameter> trainable = new LinkedHashMap<>();
    private final Set<Parameter> trainableSet = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Object graphState;
    private final Graph graph;
    private final CheckpointedRun checkpointed;
    /** Whether the loss also scores the first label (the model's output has loss logits, e.g. prompt learning). */
    private boolean scoresFirstLabel;
    private Graph evalGraph;
    private final Map<Graph, CompiledGraph> compiled = new IdentityHashMap<>();

    /** Builds the training graph with the causal-LM loss for the model's current trainable set. */
    public TrainStep(CausalLM model, OrtRuntime runtime) {
        this(model, runtime, LossSpec.causalLM());
    }

    /**
     * Builds the training graph for the model's current trainable set.
     *
     * @param lossSpec the loss to minimise (the model's {@link CausalLM#transformLoss} is applied to it)
     * @throws IllegalStateException if nothing is trainable
     */
    public TrainStep(CausalLM model, OrtRuntime runtime, LossSpec lossSpec) {
        this.model = model;
        this.runtime = runtime;
        this.lossSpec = lossSpec;
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            if (e.getValue().trainable()) {
                trainable.put(e.getKey(), e.getValue());
                trainableSet.add(e.getValue());
            }
        }
        if (trainable.isEmpty()) {
            throw new IllegalStateException("the model has no trainable parameters");
        }
        this.graphState = model.graphState();
        Graph g = new Graph().setTraining(true);
        Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value loss = lossOf(g, labels);
        Map<String, Value> wrt = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : trainable.entrySet()) {
            wrt.put(e.getKey(), g.param(e.getValue()));
        }
        this.graph = g;
        if (model.baseModel().isGradientCheckpointing() && !g.checkpoints().isEmpty()) {
            // segments are cut at the decoder's marks; the forward graph itself never runs as a whole
            this.checkpointed = new CheckpointedRun(CheckpointedGraph.build(g, loss, wrt.values()), trainable);
            return;
        }
        this.checkpointed = null;
        Autodiff.Result res = Autodiff.gradients(g, loss, wrt.values());
        g.output("loss", loss);
        for (Map.Entry<String, Value> e : wrt.entrySet()) {
            g.output("grad." + e.getKey(), res.gradient(e.getValue()));
        }
    }

    /** Emits the forward over the batch inputs and the loss against {@code labels}. */
    private Value lossOf(Graph g, Value labels) {
        g.nameParameters(model.namedParameters());
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        CausalLMOutput out = model.forward(g, CausalLMInput.of(ids).attentionMask(mask));
        scoresFirstLabel = out.lossLogits() != null;
        return model.transformLoss(g, lossSpec.build(g, out, labels));
    }

    /**
     * Whether the loss scores the first label too ({@link CausalLMOutput#lossLogits()}: with prompt learning the last
     * virtual position predicts it), so its mean runs over {@code labels != -100} rather than
     * {@code labels[..., 1:] != -100}.
     */
    boolean scoresFirstLabel() {
        return scoresFirstLabel;
    }

    /** The model this step trains. */
    public CausalLM model() {
        return model;
    }

    /** The trainable parameters by name, fixed when the step was built. */
    public Map<String, Parameter> trainable() {
        return Collections.unmodifiableMap(trainable);
    }

    /**
     * The emitted graph: forward, loss and backward; with gradient checkpointing, the forward and the loss that the
     * segments are cut from.
     */
    public Graph graph() {
        return graph;
    }

    /** The loss and the gradients of one batch. */
    public static final class Output {
        private final double loss;
        private final Map<String, Tensor> gradients;

        Output(double loss, Map<String, Tensor> gradients) {
            this.loss = loss;
            this.gradients = gradients;
        }

        /**
         * The loss of this batch, the value the gradients are of.
         *
         * @return the loss
         */
        public double loss() {
            return loss;
        }

        /** Gradients by parameter name. */
        public Map<String, Tensor> gradients() {
            return gradients;
        }
    }

    /**
     * The loss of one batch without dropout and without a backward pass (evaluation).
     *
     * @throws IllegalStateException if the model changed since this step was built
     */
    public double evaluate(Batch batch) {
        checkModelUnchanged();
        org.peft4j.models.TokenIds.checkInEmbedding(batch.inputIds(), model.baseModel().vocabSize());
        if (evalGraph == null) {
            Graph g = new Graph();
            Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
            g.output("loss", lossOf(g, labels));
            evalGraph = g;
        }
        return runLoss(evalGraph, batch, 0L).get("loss").getDouble(0);
    }

    /**
     * Throws unless the model would emit the graph this step was built from.
     *
     * @throws IllegalStateException naming what to do
     */
    private void checkModelUnchanged() {
        if (!graphState.equals(model.graphState())) {
            throw new IllegalStateException("the model changed since this TrainStep was built (adapters enabled, "
                    + "disabled, switched, merged or added, or parameters made trainable or frozen): its graph and "
                    + "trainable set no longer match the model; build a new TrainStep");
        }
    }

    private Map<String, Tensor> runLoss(Graph g, Batch batch, long dropoutSeed) {
        // compile once per graph, not per micro-batch: compiling exports and hashes the whole ModelProto; the lease
        // keeps the session open whatever the runtime's cache evicts
        CompiledGraph cg = compiled(g, true);
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", batch.inputIds());
        feed.put("attention_mask", batch.attentionMask());
        feed.put("labels", batch.labels());
        if (g.hasDropoutSeed()) {
            feed.put(Graph.DROPOUT_SEED, Tensor.of(new long[] {dropoutSeed}));
        }
        for (Value p : g.parameters()) {
            if (trainableSet.contains(p.parameter())) {
                feed.put(p.name(), p.parameter().data());
            }
        }
        return cg.run(feed);
    }

    /** The lease on {@code g}'s session, compiled on first use. */
    private CompiledGraph compiled(Graph g, boolean cpuArena) {
        CompiledGraph cg = compiled.get(g);
        if (cg == null) {
            cg = runtime.compile(g, trainableSet::contains, cpuArena);
            compiled.put(g, cg);
        }
        return cg;
    }

    /**
     * Whether this step checkpoints gradients: the base model had {@link
     * org.peft4j.models.PreTrainedModel#gradientCheckpointingEnable()} on when the step was built and its decoder marks
     * checkpoints. The forward then runs segment by segment (one per decoder layer, plus the head and loss), keeping
     * only each segment's input, and the backward recomputes each segment's activations from it; loss and gradients
     * are those of the step without checkpointing.
     */
    public boolean isGradientCheckpointing() {
        return checkpointed != null;
    }

    /** Releases the compiled sessions (they close when no one else holds them). */
    @Override
    public void close() {
        compiled.values().forEach(CompiledGraph::close);
        compiled.clear();
    }

    /** Whether the training graph has dropout, i.e. a {@value Graph#DROPOUT_SEED} input that {@link #run} feeds. */
    public boolean hasDropout() {
        return graph.hasDropoutSeed();
    }

    /**
     * The dropout seed of one micro-batch: a 64-bit mix of the run's {@code seed} (transformers' {@code seed}), the
     * optimizer {@code step} (0-based) and the micro-batch index within that step, so every micro-batch of every step
     * draws different masks and a run resumed at step N draws the same masks as an uninterrupted one.
     */
    public static long dropoutSeed(long seed, long step, int microBatch) {
        long h = mix64(seed);
        h = mix64(h + 0x9e3779b97f4a7c15L * (step + 1));
        return mix64(h + 0xbf58476d1ce4e5b9L * (microBatch + 1L));
    }

    /** SplitMix64's finalizer. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /**
     * Runs forward and backward on one batch with the parameters' current values and dropout seed 0 (for callers
     * that do not care which masks dropout draws; the masks are still the same on every call).
     */
    public Output run(Batch batch) {
        return run(batch, 0L);
    }

    /**
     * Runs forward and backward on one batch with the parameters' current values.
     *
     * @throws IllegalStateException if the model changed since this step was built (see the class comment)
     * @param dropoutSeed fed to the graph's {@value Graph#DROPOUT_SEED} input when the model has dropout (ignored
     *     otherwise); equal seeds give equal masks. The {@link Trainer} passes {@link #dropoutSeed(long, long, int)}.
     */
    public Output run(Batch batch, long dropoutSeed) {
        checkModelUnchanged();
        org.peft4j.models.TokenIds.checkInEmbedding(batch.inputIds(), model.baseModel().vocabSize());
        if (checkpointed != null) {
            // segment sessions run one after another. Each ORT session's CPU arena keeps its own peak, so with arenas
            // the 2 x layers sessions of a checkpointed step held more than the plain step (measured: 5.9 GiB vs
            // 3.1 GiB, Llama 8 x 512, 4 x 512 tokens); without them the step peaks at 1.1 GiB for ~5-10% more CPU
            return checkpointed.run(batch, dropoutSeed, g -> compiled(g, false));
        }
        Map<String, Tensor> out = runLoss(graph, batch, dropoutSeed);
        Map<String, Tensor> grads = new LinkedHashMap<>();
        for (String name : trainable.keySet()) {
            grads.put(name, out.get("grad." + name));
        }
        return new Output(out.get("loss").getDouble(0), grads);
    }
}
