package org.peft4j.train;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.peft4j.autodiff.CheckpointedGraph;
import org.peft4j.autodiff.CheckpointedGraph.Segment;
import org.peft4j.data.Batch;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A training step with gradient checkpointing: the forward runs segment by segment keeping only the values that cross
 * segments, then each segment from the last recomputes its activations from its saved inputs and back-propagates the
 * gradients of its outputs (one ONNX Runtime session per segment graph, compiled once). Gradients of a parameter read
 * by several segments, and of a saved value read by several later segments, are summed.
 */
final class CheckpointedRun {
    private final CheckpointedGraph segments;
    private final Map<String, Parameter> trainable;

    CheckpointedRun(CheckpointedGraph segments, Map<String, Parameter> trainable) {
        this.segments = segments;
        this.trainable = trainable;
    }

    CheckpointedGraph segments() {
        return segments;
    }

    TrainStep.Output run(Batch batch, long dropoutSeed, Function<Graph, CompiledGraph> compile) {
        Map<String, Tensor> values = new HashMap<>();
        values.put("input_ids", batch.inputIds());
        values.put("attention_mask", batch.attentionMask());
        values.put("labels", batch.labels());
        values.put(Graph.DROPOUT_SEED, Tensor.of(new long[] {dropoutSeed}));
        List<Segment> list = segments.segments();
        Segment lastSegment = list.get(list.size() - 1);
        for (Segment s : list) {
            if (s == lastSegment && s.backward() != null) {
                break; // the last segment's backward graph runs its forward too
            }
            Map<String, Tensor> out = compile.apply(s.forward()).run(feed(s.forward(), values));
            values.putAll(out);
        }
        Map<String, Tensor> upstream = new HashMap<>();
        Map<String, Tensor> grads = new LinkedHashMap<>();
        double loss = Double.NaN;
        if (lastSegment.backward() == null) {
            loss = values.get(CheckpointedGraph.LOSS).getDouble(0);
        }
        for (int i = list.size() - 1; i >= 0; i--) {
            Segment s = list.get(i);
            Graph bw = s.backward();
            if (bw == null) {
                continue;
            }
            Map<String, Tensor> feed = feed(bw, values);
            for (String x : s.seeds()) {
                feed.put(CheckpointedGraph.GRAD_IN + x, upstream.remove(x));
            }
            Map<String, Tensor> out = compile.apply(bw).run(feed);
            if (s == lastSegment) {
                loss = out.get(CheckpointedGraph.LOSS).getDouble(0);
            }
            for (String e : s.gradients()) {
                Tensor d = out.get(CheckpointedGraph.GRAD + e);
                Map<String, Tensor> target = trainable.containsKey(e) ? grads : upstream;
                target.merge(e, d, CheckpointedRun::sum);
            }
            // saved inputs of this segment are not needed any more by anyone after it (segments run backwards)
            for (String x : s.exports()) {
                values.remove(x);
            }
        }
        Map<String, Tensor> ordered = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : trainable.entrySet()) {
            Tensor d = grads.get(e.getKey());
            ordered.put(e.getKey(), d != null ? d : Tensor.zeros(e.getValue().dtype(), e.getValue().shape()));
        }
        return new TrainStep.Output(loss, ordered);
    }

    /** The inputs of {@code g}: saved and batch values by name, trainable parameters from their data. */
    private Map<String, Tensor> feed(Graph g, Map<String, Tensor> values) {
        Map<String, Tensor> feed = new LinkedHashMap<>();
        for (Value in : g.inputs()) {
            Tensor t = values.get(in.name());
            if (t != null) {
                feed.put(in.name(), t);
            }
        }
        for (Value p : g.parameters()) {
            if (trainable.get(p.name()) == p.parameter()) {
                feed.put(p.name(), p.parameter().data());
            }
        }
        return feed;
    }

    /** {@code a + b} elementwise, in the tensors' dtype (float32 arithmetic for half-precision dtypes). */
    static Tensor sum(Tensor a, Tensor b) {
        if (a.dtype() == DType.F64) {
            double[] x = a.toDoubleArray();
            double[] y = b.toDoubleArray();
            for (int i = 0; i < x.length; i++) {
                x[i] += y[i];
            }
            return Tensor.of(x, a.shape());
        }
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        for (int i = 0; i < x.length; i++) {
            x[i] += y[i];
        }
        Tensor t = Tensor.of(x, a.shape());
        return a.dtype() == DType.F32 ? t : t.to(a.dtype());
    }
}
