package org.peft4j.bench;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import org.peft4j.bench.Paired.Clock;
import org.peft4j.bench.Paired.Timing;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;

/**
 * How long it takes to build a shape-only model of a 7B-parameter configuration (no weights allocated), wrap it with
 * LoRA and count its parameters: the "structure and parameter counts of a 7B configuration in milliseconds" claim.
 * Each round builds Llama-2-7B from its {@code config.json} ({@code interop/fixtures/configs}), counts the parameters,
 * then wraps a fresh build with LoRA r=8 on q_proj and v_proj and counts trainable parameters (PEFT:
 * 4,194,304 of 6,742,609,920). The memory a kept shape-only model holds (heap and direct buffers) is printed, to show
 * that no weights are allocated; the LoRA weights of the wrapped model are allocated and initialised, as in PEFT.
 *
 * <p>Usage (from the repository root): {@code benchmarks/run-paired.sh ShapeOnly [--config llama-2-7b]
 * [--rounds 20]}. See docs/BENCHMARKS.md.
 */
public final class ShapeOnly {
    private ShapeOnly() {
    }

    public static void main(String[] args) throws Exception {
        run(args);
    }

    static void run(String[] args) throws Exception {
        String config = "llama-2-7b";
        int rounds = 20;
        for (int i = 0; i < args.length; i += 2) {
            String v = Paired.value(args, i);
            switch (args[i]) {
                case "--config" -> config = v;
                case "--rounds" -> rounds = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (expected --config NAME, --rounds N)");
            }
        }
        ModelConfig c = ModelConfig.load(LlamaBench.findConfig(config));
        LoraConfig lora = LoraConfig.builder().r(8).targetModules("q_proj", "v_proj").build();
        System.out.println(Paired.header("ShapeOnly"));
        Runtime rt = Runtime.getRuntime();
        double[] build = new double[rounds];
        double[] wrap = new double[rounds];
        long total = 0;
        long[] trainable = null;
        for (int r = -1; r < rounds; r++) {
            Clock clock = new Clock();
            PreTrainedModel m = AutoModelForCausalLM.fromConfig(c);
            total = m.numParameters();
            Timing b = clock.stop();
            PreTrainedModel m2 = AutoModelForCausalLM.fromConfig(c);
            clock = new Clock();
            PeftModel pm = Peft.getPeftModel(m2, lora);
            trainable = pm.getNbTrainableParameters();
            Timing w = clock.stop();
            if (r >= 0) {
                build[r] = b.wallMs();
                wrap[r] = w.wallMs();
            }
        }
        System.gc();
        long directBefore = direct();
        long heapBefore = rt.totalMemory() - rt.freeMemory();
        PreTrainedModel kept = AutoModelForCausalLM.fromConfig(c);
        System.gc();
        long heapAfter = rt.totalMemory() - rt.freeMemory();
        long directAfter = direct();
        System.out.printf(Locale.ROOT, "%s: %,d parameters; LoRA r=8 on q_proj, v_proj: %,d trainable of %,d%n",
                config, kept.numParameters(), trainable[0], trainable[1]);
        System.out.println("build the shape-only model and count, ms: median " + Paired.range(build, "%.1f")
                + " (" + rounds + " rounds after one warm-up)");
        System.out.println("getPeftModel + getNbTrainableParameters, ms: median " + Paired.range(wrap, "%.1f"));
        System.out.printf(Locale.ROOT, "memory held by one shape-only model: heap %+.2f MiB, direct buffers %+.2f MiB "
                + "(its float32 weights would be %.1f GiB)%n", (heapAfter - heapBefore) / 1048576.0,
                (directAfter - directBefore) / 1048576.0, total * 4 / 1073741824.0);
    }

    /** Bytes held by direct buffers (where tensors live). */
    private static long direct() {
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                return b.getMemoryUsed();
            }
        }
        return -1;
    }
}
