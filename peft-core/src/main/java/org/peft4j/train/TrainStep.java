package org.peft4j.train;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Forward, causal-LM loss and backward in one ONNX Runtime session. Inputs are the batch and the trainable
 * parameters; outputs are the loss and one gradient per trainable parameter. Frozen weights stay initializers
 * (shared without copies) and get no gradient nodes.
 */
public final class TrainStep {
    private final PreTrainedModel model;
    private final OrtRuntime runtime;
    private final Map<String, Parameter> trainable = new LinkedHashMap<>();
    private final Graph graph;
    private Graph evalGraph;
    private final Map<Graph, CompiledGraph> compiled = new java.util.IdentityHashMap<>();

    /** Builds the training graph for the model's current trainable set. */
    public TrainStep(PreTrainedModel model, OrtRuntime runtime) {
        this.model = model;
        this.runtime = runtime;
        for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
            if (e.getValue().trainable()) {
                trainable.put(e.getKey(), e.getValue());
            }
        }
        if (trainable.isEmpty()) {
            throw new IllegalStateException("the model has no trainable parameters");
        }
        Graph g = new Graph().setTraining(true);
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value logits = model.forward(g, CausalLMInput.of(ids).attentionMask(mask)).logits();
        Value loss = CausalLMLoss.build(g, logits, labels);
        Map<String, Value> wrt = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : trainable.entrySet()) {
            wrt.put(e.getKey(), g.param(e.getValue()));
        }
        Autodiff.Result res = Autodiff.gradients(g, loss, wrt.values());
        g.output("loss", loss);
        for (Map.Entry<String, Value> e : wrt.entrySet()) {
            g.output("grad." + e.getKey(), res.gradient(e.getValue()));
        }
        this.graph = g;
    }

    /** The trainable parameters by dotted name. */
    public Map<String, Parameter> trainable() {
        return trainable;
    }

    /** The emitted graph (forward, loss and backward). */
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

        public double loss() {
            return loss;
        }

        /** Gradients by parameter name. */
        public Map<String, Tensor> gradients() {
            return gradients;
        }
    }

    /** The loss of one batch without dropout and without a backward pass (evaluation). */
    public double evaluate(Batch batch) {
        if (evalGraph == null) {
            Graph g = new Graph();
            Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
            Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
            Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
            Value logits = model.forward(g, CausalLMInput.of(ids).attentionMask(mask)).logits();
            g.output("loss", CausalLMLoss.build(g, logits, labels));
            evalGraph = g;
        }
        return runLoss(evalGraph, batch).get("loss").getDouble(0);
    }

    private Map<String, Tensor> runLoss(Graph g, Batch batch) {
        // compile once per graph, not per micro-batch: compiling exports and hashes the whole ModelProto
        CompiledGraph cg = compiled.get(g);
        if (cg == null || cg.isClosed()) {
            cg = runtime.compile(g, Parameter::trainable);
            compiled.put(g, cg);
        }
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", batch.inputIds());
        feed.put("attention_mask", batch.attentionMask());
        feed.put("labels", batch.labels());
        for (Value p : g.parameters()) {
            if (p.parameter().trainable()) {
                feed.put(p.name(), p.parameter().data());
            }
        }
        return cg.run(feed);
    }

    /** Runs forward and backward on one batch with the parameters' current values. */
    public Output run(Batch batch) {
        Map<String, Tensor> out = runLoss(graph, batch);
        Map<String, Tensor> grads = new LinkedHashMap<>();
        for (String name : trainable.keySet()) {
            grads.put(name, out.get("grad." + name));
        }
        return new Output(out.get("loss").getDouble(0), grads);
    }
}
