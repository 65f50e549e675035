package org.peft4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.peft4j.autodiff.CheckpointedGraph;
import org.peft4j.data.Batch;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.LossSpec;
import org.peft4j.train.TrainStep;

/**
 * Peak resident memory and speed of a LoRA training step (r=16, alpha 32, on {@code q_proj} and {@code v_proj}) of a
 * random Llama ({@code --layers} layers, hidden {@code --hidden}, {@code --hidden/64} heads, intermediate
 * 2.75 x hidden, vocabulary {@code --vocab}) on {@code --batch} x {@code --tokens} tokens, in one of three modes:
 * <ul>
 *   <li>{@code plain}: the ordinary step (forward, loss and backward in one session);</li>
 *   <li>{@code checkpoint}: {@code gradientCheckpointingEnable()}, one session per segment;</li>
 *   <li>{@code one-graph}: the recomputation of every segment emitted into the one training graph
 *       ({@link CheckpointedGraph#recomputeInOneGraph}), to see whether ONNX Runtime keeps the saving.</li>
 * </ul>
 * Prints tokens/s of the timed steps (after one untimed step), tokens per CPU second of the whole process (steadier
 * than wall time on a shared machine) and the process's peak resident size (VmHWM). Run each mode in its own JVM so
 * the peak is the mode's own. Never run by {@code mvn verify}.
 *
 * <pre>benchmarks/run-paired.sh GradientCheckpointingBench --mode checkpoint [--layers 8] [--hidden 512]
 *     [--vocab 8192] [--batch 4] [--tokens 512] [--steps 3]</pre>
 */
public final class GradientCheckpointingBench {
    private GradientCheckpointingBench() {
    }

    public static void main(String[] args) throws Exception {
        String mode = "plain";
        int layers = 8;
        int hidden = 512;
        int vocab = 8192;
        int batch = 4;
        int tokens = 512;
        int steps = 3;
        for (int i = 0; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--mode": mode = v; break;
                case "--layers": layers = Integer.parseInt(v); break;
                case "--hidden": hidden = Integer.parseInt(v); break;
                case "--vocab": vocab = Integer.parseInt(v); break;
                case "--batch": batch = Integer.parseInt(v); break;
                case "--tokens": tokens = Integer.parseInt(v); break;
                case "--steps": steps = Integer.parseInt(v); break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        String json = String.format(Locale.ROOT, "{\"model_type\": \"llama\", \"hidden_size\": %d, "
                + "\"intermediate_size\": %d, \"num_attention_heads\": %d, \"num_key_value_heads\": %d, "
                + "\"num_hidden_layers\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d, "
                + "\"rms_norm_eps\": 1e-6, \"tie_word_embeddings\": false}", hidden, hidden * 11 / 4, hidden / 64,
                hidden / 64, layers, vocab, Math.max(tokens, 2048));
        PreTrainedModel base = AutoModelForCausalLM.fromConfig(ModelConfig.parse(json));
        base.initWeights(1);
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(16).loraAlpha(32)
                .targetModules("q_proj", "v_proj").initLoraWeights(false).build());
        long[] ids = new long[batch * tokens];
        long[] mask = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (1 + 7919L * i) % vocab;
            mask[i] = 1;
        }
        Tensor t = Tensor.of(ids, batch, tokens);
        Batch b = new Batch(t, Tensor.of(mask, batch, tokens), t);
        OrtRuntime rt = OrtRuntime.shared();
        Step step = switch (mode) {
            case "plain" -> plain(pm, rt, false);
            case "checkpoint" -> plain(pm, rt, true);
            case "one-graph" -> oneGraph(pm, rt);
            default -> throw new IllegalArgumentException("--mode plain|checkpoint|one-graph, got " + mode);
        };
        double first = step.run(b);
        long t0 = System.nanoTime();
        long c0 = cpuNanos();
        double loss = 0;
        for (int s = 0; s < steps; s++) {
            loss = step.run(b);
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        double cpu = (cpuNanos() - c0) / 1e9;
        System.out.printf(Locale.ROOT, "mode=%s layers=%d hidden=%d vocab=%d batch=%d tokens=%d steps=%d: "
                + "loss %.6f (first %.6f), %.2f s/step, %.1f tokens/s, %.2f CPU s/step, %.1f tokens/CPU s, "
                + "peak RSS %d MiB%n", mode, layers, hidden, vocab, batch, tokens, steps, loss, first, sec / steps,
                (double) steps * batch * tokens / sec, cpu / steps, (double) steps * batch * tokens / cpu,
                peakRssKiB() / 1024);
    }

    /** One training step; returns the loss. */
    interface Step {
        double run(Batch b);
    }

    private static Step plain(PeftModel pm, OrtRuntime rt, boolean checkpoint) {
        if (checkpoint) {
            pm.baseModel().gradientCheckpointingEnable();
        }
        TrainStep step = new TrainStep(pm, rt);
        if (step.isGradientCheckpointing() != checkpoint) {
            throw new IllegalStateException("checkpointing is " + step.isGradientCheckpointing());
        }
        return b -> step.run(b, 0L).loss();
    }

    private static Step oneGraph(PeftModel pm, OrtRuntime rt) {
        Map<String, Parameter> trainable = new LinkedHashMap<>();
        pm.namedParameters().forEach((k, p) -> {
            if (p.trainable()) {
                trainable.put(k, p);
            }
        });
        Set<Parameter> set = trainable.values().stream().collect(Collectors.toCollection(
                () -> java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>())));
        Graph g = new Graph().setTraining(true);
        g.nameParameters(pm.namedParameters());
        Value labels = g.input("labels", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq"));
        CausalLMOutput out = pm.forward(g, CausalLMInput.of(ids).attentionMask(mask));
        Value loss = pm.transformLoss(g, LossSpec.causalLM().build(g, out, labels));
        Map<String, Value> wrt = new LinkedHashMap<>();
        trainable.forEach((k, p) -> wrt.put(k, g.param(p)));
        Map<Value, Value> grads = CheckpointedGraph.recomputeInOneGraph(g, loss, wrt.values());
        g.output("loss", loss);
        wrt.forEach((k, v) -> g.output("grad." + k, grads.get(v)));
        CompiledGraph cg = rt.compile(g, set::contains);
        return b -> {
            Map<String, Tensor> feed = new LinkedHashMap<>();
            feed.put("input_ids", b.inputIds());
            feed.put("attention_mask", b.attentionMask());
            feed.put("labels", b.labels());
            trainable.forEach((k, p) -> feed.put(k, p.data()));
            return cg.run(feed).get("loss").getDouble(0);
        };
    }

    /** CPU time of the whole process (every thread, ONNX Runtime's native pool included), in nanoseconds. */
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** The peak resident set size of this process (VmHWM), in KiB. */
    static long peakRssKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
