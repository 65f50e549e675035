package org.peft4j.bench;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.peft4j.bench.Paired.Clock;
import org.peft4j.bench.Paired.Timing;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Linear;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * The LoRA forward overhead, timed in rounds in one process (see {@link Paired} for why): one sequence of
 * {@code --tokens} tokens through the base model, through the PEFT model with {@code disableAdapter()}, and through
 * the PEFT model with LoRA r=16 active on all linear layers (random A and B), in an order that rotates every round.
 * Two forms: {@code logits} ({@code logits()} through the public API) and {@code hidden} (the final hidden states,
 * without {@code lm_head}, so that the 32,000-word vocabulary projection does not dilute the adapter's share). The
 * base and PEFT models share the same weight tensors (no second copy). The report gives each call's median and
 * minimum, the medians of the per-round ratios and the ratio of the minimums, next to the share of multiply-adds
 * LoRA adds (computed from the shapes). The base model and the disabled adapter run the same arithmetic, so the
 * spread of their ratio shows how much the machine's noise hides.
 *
 * <p>Usage (from the repository root): {@code benchmarks/run-paired.sh ForwardOverhead [--layers 2] [--rank 16]
 * [--tokens 128] [--rounds 9]}. See docs/BENCHMARKS.md.
 */
public final class ForwardOverhead {
    private static final List<String> VARIANTS = List.of("base", "disabled", "lora");

    private ForwardOverhead() {
    }

    public static void main(String[] args) throws Exception {
        run(args);
    }

    static void run(String[] args) {
        int layers = 2;
        int rank = 16;
        int tokens = 128;
        int rounds = 9;
        String config = LoraForwardBenchmark.CONFIG;
        for (int i = 0; i < args.length; i += 2) {
            String v = Paired.value(args, i);
            switch (args[i]) {
                case "--layers" -> layers = Integer.parseInt(v);
                case "--rank" -> rank = Integer.parseInt(v);
                case "--tokens" -> tokens = Integer.parseInt(v);
                case "--rounds" -> rounds = Integer.parseInt(v);
                case "--config" -> config = v;
                default -> throw new IllegalArgumentException("unknown option " + args[i] + " (expected --layers N, "
                        + "--rank R, --tokens N, --rounds N, --config NAME)");
            }
        }
        PreTrainedModel base = LlamaBench.withRandomWeights(config, layers);
        PreTrainedModel wrapped = LlamaBench.shapeOnly(config, layers);
        Map<String, Parameter> baseParams = base.namedParameters();
        for (Map.Entry<String, Parameter> e : wrapped.namedParameters().entrySet()) {
            e.getValue().setData(baseParams.get(e.getKey()).data());
        }
        PeftModel pm = Peft.getPeftModel(wrapped, LlamaBench.lora(rank));
        Tensor ids = LlamaBench.ids(base, tokens);
        System.out.println(Paired.header("ForwardOverhead"));
        System.out.printf(Locale.ROOT, "model: %s config, %d decoder layers, %d tokens; LoRA r=%d on all linear "
                + "layers (%,d trainable parameters)%n", config, layers, tokens, rank,
                pm.getNbTrainableParameters()[0]);
        long linearMacs = 0;
        long loraMacs = 0;
        for (Parameter w : LlamaBench.allLinearWeights(base).values()) {
            long[] s = w.shape();
            linearMacs += s[0] * s[1];
            loraMacs += (long) rank * (s[0] + s[1]);
        }
        long headMacs = ((Linear) base.getSubmodule(base.outputEmbeddingsName())).weight().numel();
        System.out.printf(Locale.ROOT, "multiply-adds per token: decoder linear layers %,d, LoRA %,d (%.2f%%), "
                + "lm_head %,d (LoRA: %.2f%% of all)%n", linearMacs, loraMacs, 100.0 * loraMacs / linearMacs,
                headMacs, 100.0 * loraMacs / (linearMacs + headMacs));

        for (String form : List.of("logits", "hidden")) {
            Map<String, Supplier<Tensor>> calls = Map.of(
                    "base", () -> form.equals("logits") ? base.logits(ids, null) : LlamaBench.hidden(base, null, ids),
                    "disabled", () -> {
                        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
                            return form.equals("logits") ? pm.logits(ids, null) : LlamaBench.hidden(wrapped, pm, ids);
                        }
                    },
                    "lora", () -> form.equals("logits") ? pm.logits(ids, null) : LlamaBench.hidden(wrapped, pm, ids));
            // warm-up (compiles the sessions) and a check that the three variants compute what they should
            Tensor b = calls.get("base").get();
            double offDiff = maxAbsDiff(calls.get("disabled").get(), b);
            double loraDiff = maxAbsDiff(calls.get("lora").get(), b);
            if (offDiff > 1e-4 || loraDiff < 1e-3) {
                throw new AssertionError("disabled must equal base and lora must differ: " + offDiff + ", " + loraDiff);
            }
            double[][] ms = new double[3][rounds];
            double[][] cpu = new double[3][rounds];
            double[] loraOverBase = new double[rounds];
            double[] loraOverOff = new double[rounds];
            double[] offOverBase = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < 3; k++) {
                    int v = (r + k) % 3;
                    Paired.collect();
                    Clock clock = new Clock();
                    calls.get(VARIANTS.get(v)).get();
                    Timing t = clock.stop();
                    ms[v][r] = t.wallMs();
                    cpu[v][r] = t.cpuMs();
                }
                loraOverBase[r] = ms[2][r] / ms[0][r];
                loraOverOff[r] = ms[2][r] / ms[1][r];
                offOverBase[r] = ms[1][r] / ms[0][r];
                System.out.printf(Locale.ROOT, "%s round %d: base %.0f ms, disabled %.0f ms, lora %.0f ms%n", form,
                        r + 1, ms[0][r], ms[1][r], ms[2][r]);
            }
            for (int v = 0; v < 3; v++) {
                System.out.printf(Locale.ROOT, "%-6s %-8s ms: median %s, CPU %s%n", form, VARIANTS.get(v),
                        Paired.range(ms[v], "%.0f"), Paired.range(cpu[v], "%.0f"));
            }
            System.out.printf(Locale.ROOT, "%s, medians of %d per-round ratios: LoRA active / base %s; "
                    + "LoRA active / disableAdapter() %s; disableAdapter() / base %s%n", form, rounds,
                    Paired.range(loraOverBase, "%.2fx"), Paired.range(loraOverOff, "%.2fx"),
                    Paired.range(offOverBase, "%.2fx"));
            System.out.printf(Locale.ROOT, "%s, ratios of the minimums: LoRA active / base %.2fx; LoRA active / "
                    + "disableAdapter() %.2fx; disableAdapter() / base %.2fx%n", form,
                    Paired.min(ms[2]) / Paired.min(ms[0]), Paired.min(ms[2]) / Paired.min(ms[1]),
                    Paired.min(ms[1]) / Paired.min(ms[0]));
        }
    }

    private static double maxAbsDiff(Tensor a, Tensor b) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        double m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }
}
