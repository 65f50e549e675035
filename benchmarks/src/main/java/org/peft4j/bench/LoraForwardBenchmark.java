package org.peft4j.bench;

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
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.util.Statistics;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * The LoRA forward overhead on a Llama layer set of realistic size (TinyLlama-1.1B's config cut to a few decoder
 * layers, random float32 weights), LoRA r=16 on all linear layers with random A and B.
 *
 * <ul>
 *   <li>{@code forwardLogits}: {@code logits()} of one sequence of 128 tokens through the public API, for the base
 *       model, the PEFT model with {@code disableAdapter()} and the PEFT model with the adapter active;
 *   <li>{@code forwardHidden}: the same without {@code lm_head} (final hidden states), so that the vocabulary
 *       projection does not dilute the adapter's share.
 * </ul>
 * Every call is timed once ({@code SingleShotTime}) after warm-up calls, in a forked JVM. Run it with
 * {@code benchmarks/run.sh} (see docs/BENCHMARKS.md); {@link #main} prints JMH's report and then a summary with
 * medians, ranges and the ratios. JMH command-line options given to {@code main} are passed through (for example
 * {@code -p layers=2 -i 5}). The merge is measured against a copy by {@link MergeVsCopy}, in pairs in one process.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 10)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx2g", "-XX:MaxDirectMemorySize=16g"})
public class LoraForwardBenchmark {
    static final String CONFIG = "tinyllama-1.1b";

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
            b.include(LoraForwardBenchmark.class.getName() + "\\.");
        }
        b.addProfiler(CpuTimeProfiler.class);
        Options opts = b.build();
        Collection<RunResult> results = new Runner(opts).run();
        System.out.println();
        System.out.println(summary(results));
    }

    static String summary(Collection<RunResult> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "peft4j LoraForwardBenchmark summary (%d cores, %s %s, JVM %s)%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                System.getProperty("os.arch"), System.getProperty("java.version")));
        for (RunResult r : results) {
            sb.append(String.format(Locale.ROOT, "model: %s config, %s decoder layers, %s tokens, LoRA r=%s on all "
                    + "linear layers%n", r.getParams().getParam("config"), r.getParams().getParam("layers"),
                    r.getParams().getParam("tokens"), r.getParams().getParam("rank")));
            break;
        }
        sb.append(String.format(Locale.ROOT, "%-36s %4s  %-30s  %-30s%n", "benchmark", "n",
                "wall ms: median [min, max]", "CPU ms: median [min, max]"));
        for (RunResult r : results) {
            Statistics st = r.getPrimaryResult().getStatistics();
            Result<?> cpu = r.getSecondaryResults().get("cpu");
            sb.append(String.format(Locale.ROOT, "%-36s %4d  %-30s  %-30s%n", label(r), st.getN(), range(st),
                    cpu == null ? "-" : range(cpu.getStatistics())));
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
