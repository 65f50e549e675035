package org.peft4j.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.util.Statistics;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * LoRA merge and forward costs on a Llama layer set of realistic size (TinyLlama-1.1B's config cut to a few decoder
 * layers, random float32 weights), LoRA r=16 on all linear layers with random A and B.
 *
 * <ul>
 *   <li>{@code mergeAndUnload}: {@code PeftModel.mergeAndUnload()} of a freshly wrapped model (wrapping is untimed),
 *       against {@code copyWeights} ({@code Tensor#copy} of every targeted weight: a new direct buffer plus a bulk
 *       copy, the allocation a merge also pays) and {@code copyIntoPreallocated} (a bulk {@code ByteBuffer} copy
 *       into buffers allocated once: the memory bandwidth floor);
 *   <li>{@code forwardLogits}: {@code logits()} of one sequence of 128 tokens through the public API, for the base
 *       model, the PEFT model with {@code disableAdapter()} and the PEFT model with the adapter active;
 *       {@code forwardHidden}: the same without {@code lm_head} (final hidden states), so that the vocabulary
 *       projection does not dilute the adapter's share.
 * </ul>
 * Every call is timed once ({@code SingleShotTime}) after warm-up calls, in a forked JVM. Run it with
 * {@code benchmarks/run.sh} (see docs/BENCHMARKS.md); {@link #main} prints JMH's report and then a summary with
 * medians, ranges and the ratios. JMH command-line options given to {@code main} are passed through (for example
 * {@code -p layers=2 -i 5}).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 10)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx2g", "-XX:MaxDirectMemorySize=16g"})
public class MergeBenchmark {
    static final String CONFIG = "tinyllama-1.1b";

    /** The base model with random weights, wrapped anew before each timed merge. */
    @State(Scope.Benchmark)
    public static class MergeState {
        @Param(CONFIG)
        public String config;
        @Param("2")
        public int layers;
        @Param("16")
        public int rank;

        PreTrainedModel model;
        List<Parameter> targets;
        List<Tensor> original;
        PeftModel pm;

        @Setup(Level.Trial)
        public void build() {
            model = LlamaBench.withRandomWeights(config, layers);
            targets = new ArrayList<>(LlamaBench.allLinearWeights(model).values());
            original = LlamaBench.snapshot(targets);
        }

        @Setup(Level.Iteration)
        public void wrap() {
            // the previous merge replaced the weights: put the originals back and wrap again (untimed)
            for (int i = 0; i < targets.size(); i++) {
                targets.get(i).setData(original.get(i));
            }
            pm = null;
            System.gc();
            pm = Peft.getPeftModel(model, LlamaBench.lora(rank));
        }
    }

    /** The same weights, and buffers of the same sizes for the bandwidth floor. */
    @State(Scope.Benchmark)
    public static class CopyState {
        @Param(CONFIG)
        public String config;
        @Param("2")
        public int layers;

        List<Tensor> weights;
        List<ByteBuffer> targets;

        @Setup(Level.Trial)
        public void build() {
            PreTrainedModel model = LlamaBench.withRandomWeights(config, layers);
            weights = LlamaBench.snapshot(new ArrayList<>(LlamaBench.allLinearWeights(model).values()));
            targets = new ArrayList<>();
            for (Tensor w : weights) {
                targets.add(ByteBuffer.allocateDirect(Math.toIntExact(w.byteSize())));
            }
        }

        @Setup(Level.Iteration)
        public void collect() {
            System.gc();
        }
    }

    /** A model for one forward variant: "base" (no PEFT), "disabled" (disableAdapter()), "lora" (active). */
    @State(Scope.Benchmark)
    public static class ForwardState {
        @Param(CONFIG)
        public String config;
        @Param("2")
        public int layers;
        @Param("16")
        public int rank;
        @Param("128")
        public int tokens;
        @Param({"base", "disabled", "lora"})
        public String mode;

        PreTrainedModel model;
        PeftModel pm;
        PeftModel.AdapterDisabled off;
        Tensor ids;

        @Setup(Level.Trial)
        public void build() {
            model = LlamaBench.withRandomWeights(config, layers);
            ids = LlamaBench.ids(model, tokens);
            if (!"base".equals(mode)) {
                pm = Peft.getPeftModel(model, LlamaBench.lora(rank));
            }
            if ("disabled".equals(mode)) {
                off = pm.disableAdapter();
            } else if (!"base".equals(mode) && !"lora".equals(mode)) {
                throw new IllegalArgumentException("mode must be base, disabled or lora, got " + mode);
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            if (off != null) {
                off.close();
            }
        }
    }

    @Benchmark
    public PreTrainedModel mergeAndUnload(MergeState s) {
        long cpu = CpuTimeProfiler.start();
        PreTrainedModel m = s.pm.mergeAndUnload();
        CpuTimeProfiler.stop(cpu);
        return m;
    }

    @Benchmark
    public void copyWeights(CopyState s, Blackhole bh) {
        long cpu = CpuTimeProfiler.start();
        for (Tensor w : s.weights) {
            bh.consume(w.copy());
        }
        CpuTimeProfiler.stop(cpu);
    }

    @Benchmark
    public void copyIntoPreallocated(CopyState s, Blackhole bh) {
        long cpu = CpuTimeProfiler.start();
        for (int i = 0; i < s.weights.size(); i++) {
            ByteBuffer dst = s.targets.get(i);
            dst.clear();
            dst.put(s.weights.get(i).data());
            bh.consume(dst);
        }
        CpuTimeProfiler.stop(cpu);
    }

    @Benchmark
    public Tensor forwardLogits(ForwardState s) {
        long cpu = CpuTimeProfiler.start();
        Tensor t = s.pm != null ? s.pm.logits(s.ids, null) : s.model.logits(s.ids, null);
        CpuTimeProfiler.stop(cpu);
        return t;
    }

    @Benchmark
    public Tensor forwardHidden(ForwardState s) {
        long cpu = CpuTimeProfiler.start();
        Tensor t = LlamaBench.hidden(s.model, s.pm, s.ids);
        CpuTimeProfiler.stop(cpu);
        return t;
    }

    // ------------------------------------------------------------------ runner and summary

    /** Runs the benchmarks of this class (or those selected by JMH options in {@code args}) and prints a summary. */
    public static void main(String[] args) throws Exception {
        // JMH's default "compiler blackholes" (-XX:CompileCommand=blackhole) made the forked JDK 17.0.15 die with
        // SIGSEGV (exit code 139, no hs_err file) on its first ONNX Runtime call; full blackholes do not
        if (System.getProperty("jmh.blackhole.autoDetect") == null
                && System.getProperty("jmh.blackhole.mode") == null) {
            System.setProperty("jmh.blackhole.autoDetect", "false");
        }
        CommandLineOptions cli = new CommandLineOptions(args);
        OptionsBuilder b = new OptionsBuilder();
        b.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            b.include(MergeBenchmark.class.getName() + "\\.");
        }
        b.addProfiler(CpuTimeProfiler.class);
        Options opts = b.build();
        Collection<RunResult> results = new Runner(opts).run();
        System.out.println();
        System.out.println(summary(results));
    }

    static String summary(Collection<RunResult> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "peft4j MergeBenchmark summary (%d cores, %s %s, JVM %s)%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                System.getProperty("os.arch"), System.getProperty("java.version")));
        String layers = null;
        String config = null;
        for (RunResult r : results) {
            layers = r.getParams().getParam("layers");
            config = r.getParams().getParam("config");
            if (layers != null && config != null) {
                break;
            }
        }
        if (layers != null && config != null) {
            int n = Integer.parseInt(layers);
            PreTrainedModel shapes = LlamaBench.shapeOnly(config, n);
            long bytes = 0;
            int count = 0;
            for (Parameter p : LlamaBench.allLinearWeights(shapes).values()) {
                bytes += p.numel() * p.dtype().byteSize();
                count++;
            }
            sb.append(String.format(Locale.ROOT, "model: %s config, %d decoder layers; all-linear targets: %d weights, "
                    + "%.1f MiB float32%n", config, n, count, bytes / 1048576.0));
        }
        sb.append(String.format(Locale.ROOT, "%-36s %4s  %-30s  %-30s%n", "benchmark", "n",
                "wall ms: median [min, max]", "CPU ms: median [min, max]"));
        for (RunResult r : results) {
            Statistics st = r.getPrimaryResult().getStatistics();
            Result<?> cpu = r.getSecondaryResults().get("cpu");
            sb.append(String.format(Locale.ROOT, "%-36s %4d  %-30s  %-30s%n", label(r), st.getN(), range(st),
                    cpu == null ? "-" : range(cpu.getStatistics())));
        }
        RunResult merge = find(results, "mergeAndUnload", null);
        RunResult copy = find(results, "copyWeights", null);
        RunResult floor = find(results, "copyIntoPreallocated", null);
        if (merge != null && copy != null) {
            sb.append("mergeAndUnload / Tensor#copy of the same weights: " + ratios(merge, copy)
                    + " (target: 3x or less)").append(System.lineSeparator());
        }
        if (merge != null && floor != null) {
            sb.append("mergeAndUnload / copy into preallocated buffers: " + ratios(merge, floor))
                    .append(System.lineSeparator());
        }
        for (String fwd : List.of("forwardLogits", "forwardHidden")) {
            RunResult base = find(results, fwd, "base");
            RunResult disabled = find(results, fwd, "disabled");
            RunResult lora = find(results, fwd, "lora");
            if (base != null && lora != null) {
                sb.append(fwd + ": LoRA active / base model " + ratios(lora, base));
                if (disabled != null) {
                    sb.append("; LoRA active / disableAdapter() " + ratios(lora, disabled)
                            + "; disableAdapter() / base " + ratios(disabled, base));
                }
                sb.append(System.lineSeparator());
            }
        }
        return sb.toString();
    }

    private static String range(Statistics st) {
        return String.format(Locale.ROOT, "%9.1f [%.1f, %.1f]", st.getPercentile(50), st.getMin(), st.getMax());
    }

    private static String label(RunResult r) {
        String name = r.getParams().getBenchmark();
        name = name.substring(name.lastIndexOf('.') + 1);
        String mode = r.getParams().getParam("mode");
        return mode == null ? name : name + " [" + mode + "]";
    }

    private static RunResult find(Collection<RunResult> results, String bench, String mode) {
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            if (name.endsWith("." + bench) && (mode == null || mode.equals(r.getParams().getParam("mode")))) {
                return r;
            }
        }
        return null;
    }

    /** The ratio of medians, wall-clock and CPU time: {@code "2.10x wall, 1.95x CPU"}. */
    private static String ratios(RunResult a, RunResult b) {
        String out = String.format(Locale.ROOT, "%.2fx wall", median(a, null) / median(b, null));
        Double ca = median(a, "cpu");
        Double cb = median(b, "cpu");
        if (ca != null && cb != null) {
            out += String.format(Locale.ROOT, ", %.2fx CPU", ca / cb);
        }
        return out;
    }

    private static Double median(RunResult r, String secondary) {
        if (secondary == null) {
            return r.getPrimaryResult().getStatistics().getPercentile(50);
        }
        Result<?> s = r.getSecondaryResults().get(secondary);
        return s == null ? null : s.getStatistics().getPercentile(50);
    }
}
