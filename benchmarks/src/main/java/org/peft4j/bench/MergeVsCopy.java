package org.peft4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.peft4j.bench.Paired.Clock;
import org.peft4j.bench.Paired.Timing;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * {@code PeftModel.mergeAndUnload()} against one plain copy of the same weights, timed in pairs in one process (see
 * {@link Paired} for why). The target is "merge within 3x the copy time".
 *
 * <ul>
 *   <li>copy: {@code Tensor#copy} of every targeted weight (a new direct buffer and a bulk copy), all kept until the
 *       timing is taken;
 *   <li>merge: {@code mergeAndUnload()} of the model freshly wrapped with LoRA r=16 on all linear layers, random A and
 *       B (wrapping untimed; the original weights are restored before each merge). With {@code --weights owned} (the
 *       default) the weights are writable buffers and the merge writes into them in place, as PEFT does; with
 *       {@code --weights read-only} they are read-only views, as memory-mapped safetensors are, and the merge writes
 *       each merged weight into a new tensor.
 * </ul>
 * Each round times a copy and a merge back to back, alternating which goes first, after a garbage collection. The
 * first merge of the process also loads ONNX Runtime and compiles the merge graph; it is reported on its own and left
 * out, as are the {@code --warmup} rounds.
 *
 * <p>Usage (from the repository root): {@code benchmarks/run-paired.sh MergeVsCopy [--layers 2] [--rank 16]
 * [--rounds 9] [--warmup 1] [--weights owned|read-only]}. See docs/BENCHMARKS.md.
 */
public final class MergeVsCopy {
    private final List<Parameter> targets;
    /** Owned copies of the original weights, never merged into. */
    private final List<Tensor> original;
    private final PreTrainedModel model;
    private final int rank;
    private final boolean readOnly;

    private MergeVsCopy(PreTrainedModel model, int rank, boolean readOnly) {
        this.model = model;
        this.rank = rank;
        this.readOnly = readOnly;
        this.targets = new ArrayList<>(LlamaBench.allLinearWeights(model).values());
        this.original = new ArrayList<>();
        for (Tensor t : LlamaBench.snapshot(targets)) {
            original.add(t.copy());
        }
    }

    public static void main(String[] args) throws Exception {
        run(args);
    }

    static void run(String[] args) {
        int layers = 2;
        int rank = 16;
        int rounds = 9;
        int warmup = 1;
        String config = LoraForwardBenchmark.CONFIG;
        String weights = "owned";
        for (int i = 0; i < args.length; i += 2) {
            String v = Paired.value(args, i);
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(v);
                case "--rank" -> rank = Integer.parseInt(v);
                case "--rounds" -> rounds = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--config" -> config = v;
                case "--weights" -> weights = v;
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (expected --layers N, "
                        + "--rank R, --rounds N, --warmup N, --config NAME, --weights owned|read-only)");
            }
        }
        if (!weights.equals("owned") && !weights.equals("read-only")) {
            throw new IllegalArgumentException("--weights must be owned or read-only, got " + weights);
        }
        MergeVsCopy b = new MergeVsCopy(LlamaBench.withRandomWeights(config, layers), rank,
                weights.equals("read-only"));
        long bytes = 0;
        for (Tensor w : b.original) {
            bytes += w.byteSize();
        }
        System.out.println(Paired.header("MergeVsCopy"));
        System.out.printf(Locale.ROOT, "model: %s config, %d decoder layers; LoRA r=%d on all linear layers: "
                + "%d weights, %.1f MiB float32, %s (%s)%n", config, layers, rank, b.targets.size(),
                bytes / 1048576.0, weights, b.readOnly ? "merged into new tensors" : "merged in place");

        Timing cold = b.merge();
        System.out.printf(Locale.ROOT, "first merge of the process (loads ORT, compiles the graph): %.0f ms wall, "
                + "%.0f ms CPU%n", cold.wallMs(), cold.cpuMs());
        double[] copyWall = new double[rounds];
        double[] copyCpu = new double[rounds];
        double[] mergeWall = new double[rounds];
        double[] mergeCpu = new double[rounds];
        double[] ratio = new double[rounds];
        double[] ratioCpu = new double[rounds];
        System.out.printf(Locale.ROOT, "%-7s %-6s %15s %15s %16s%n", "round", "first", "copy ms (CPU)",
                "merge ms (CPU)", "merge/copy");
        for (int r = -warmup; r < rounds; r++) {
            Timing copy;
            Timing merge;
            boolean copyFirst = Math.floorMod(r, 2) == 0;
            if (copyFirst) {
                copy = b.copy();
                merge = b.merge();
            } else {
                merge = b.merge();
                copy = b.copy();
            }
            System.out.printf(Locale.ROOT, "%-7s %-6s %8.0f (%4.0f) %8.0f (%4.0f) %8.2fx (%.2fx)%n",
                    r < 0 ? "warm-up" : Integer.toString(r + 1), copyFirst ? "copy" : "merge", copy.wallMs(),
                    copy.cpuMs(), merge.wallMs(), merge.cpuMs(), merge.wallMs() / copy.wallMs(),
                    merge.cpuMs() / copy.cpuMs());
            if (r >= 0) {
                copyWall[r] = copy.wallMs();
                copyCpu[r] = copy.cpuMs();
                mergeWall[r] = merge.wallMs();
                mergeCpu[r] = merge.cpuMs();
                ratio[r] = merge.wallMs() / copy.wallMs();
                ratioCpu[r] = merge.cpuMs() / copy.cpuMs();
            }
        }
        System.out.println("(in parentheses: process CPU time, all threads)");
        System.out.println("copy  ms: median " + Paired.range(copyWall, "%.0f") + ", CPU "
                + Paired.range(copyCpu, "%.0f"));
        System.out.println("merge ms: median " + Paired.range(mergeWall, "%.0f") + ", CPU "
                + Paired.range(mergeCpu, "%.0f"));
        System.out.printf(Locale.ROOT, "mergeAndUnload / copy, median of %d paired rounds: %s wall, %.2fx CPU "
                + "(target: 3x or less)%n", rounds, Paired.range(ratio, "%.2fx"), Paired.median(ratioCpu));
    }

    /** One copy of every targeted weight, all kept until the timing is taken. */
    Timing copy() {
        Paired.collect();
        Clock clock = new Clock();
        List<Tensor> copies = new ArrayList<>(original.size());
        for (Tensor w : original) {
            copies.add(w.copy());
        }
        Timing t = clock.stop();
        if (copies.size() != original.size()) {
            throw new AssertionError();
        }
        return t;
    }

    /** Restores the original weights, wraps the model with LoRA (untimed) and times {@code mergeAndUnload()}. */
    Timing merge() {
        for (int i = 0; i < targets.size(); i++) {
            Parameter p = targets.get(i);
            Tensor o = original.get(i);
            if (readOnly) {
                p.setData(Tensor.wrap(o.dtype(), o.shape(), o.data().asReadOnlyBuffer()));
            } else {
                // the previous merge wrote into the weight: copy the original bytes back into the same buffer
                p.data().write(b -> b.put(o.data()));
            }
        }
        Tensor first = targets.get(0).data();
        Paired.collect();
        PeftModel pm = Peft.getPeftModel(model, LlamaBench.lora(rank));
        Clock clock = new Clock();
        PreTrainedModel merged = pm.mergeAndUnload();
        Timing t = clock.stop();
        Tensor now = targets.get(0).data();
        if (merged != model || (now == first) == readOnly || now.contentEquals(original.get(0))) {
            throw new AssertionError("mergeAndUnload did not merge as expected");
        }
        return t;
    }
}
