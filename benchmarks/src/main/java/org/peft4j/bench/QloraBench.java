package org.peft4j.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.qlora.BitsAndBytesConfig;
import org.peft4j.qlora.KbitTraining;
import org.peft4j.qlora.Linear4bit;
import org.peft4j.qlora.QuantState;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * QLoRA against LoRA on one shape: TinyLlama-1.1B's config ({@code interop/fixtures/configs/tinyllama-1.1b.json},
 * 22 layers unless {@code --layers}) with random weights, LoRA r=16 (alpha 32) on every linear layer but lm_head,
 * batches of {@code --batch} x {@code --tokens}. {@code --mode lora} keeps the base in float32;
 * {@code --mode qlora} quantizes every linear layer (not lm_head) to NF4 with double quantization, layer by layer as
 * it is filled (the float32 model is never held), then runs PEFT's {@code prepare_model_for_kbit_training}.
 * {@code --gc true} turns gradient checkpointing on. Prints the base weights' bits per parameter, the training
 * tokens per second of {@code --steps} timed steps after {@code --warmup}, and the process's peak resident size
 * (VmHWM). Run each configuration in its own JVM ({@code benchmarks/run-qlora.sh}). Never run by {@code mvn verify}.
 */
public final class QloraBench {
    private QloraBench() {
    }

    public static void main(String[] args) throws Exception {
        String mode = "qlora";
        boolean gc = false;
        int layers = 22;
        int tokens = 256;
        int batch = 1;
        int steps = 3;
        int warmup = 1;
        for (int i = 0; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--mode": mode = v; break;
                case "--gc": gc = Boolean.parseBoolean(v); break;
                case "--layers": layers = Integer.parseInt(v); break;
                case "--tokens": tokens = Integer.parseInt(v); break;
                case "--batch": batch = Integer.parseInt(v); break;
                case "--steps": steps = Integer.parseInt(v); break;
                case "--warmup": warmup = Integer.parseInt(v); break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        long t0 = System.nanoTime();
        PreTrainedModel base;
        String bits = "";
        if (mode.equals("lora")) {
            base = LlamaBench.withRandomWeights("tinyllama-1.1b", layers);
        } else if (mode.equals("qlora")) {
            base = quantizedRandom(layers);
            bits = String.format(Locale.ROOT, " base=%.4f bits/param (quantized layers)", bitsPerParameter(base));
            KbitTraining.prepareModelForKbitTraining(base, gc);
        } else {
            throw new IllegalArgumentException("--mode lora|qlora, got " + mode);
        }
        double buildS = (System.nanoTime() - t0) / 1e9;
        if (gc) {
            base.gradientCheckpointingEnable();
        }
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(16).loraAlpha(32)
                .targetModules("all-linear").build());
        List<Batch> batches = LlamaBench.syntheticBatches(2, batch, tokens, base.vocabSize());
        Path out = Files.createTempDirectory("qlora-bench");
        OrtRuntime rt = OrtRuntime.shared();
        new Trainer(pm, args(out, warmup, gc), rt).showProgress(false).train(batches);
        Trainer timed = new Trainer(pm, args(out, steps, gc), rt).showProgress(false);
        long t1 = System.nanoTime();
        timed.train(batches);
        double s = (System.nanoTime() - t1) / 1e9;
        double tps = (double) steps * batch * tokens / s;
        System.out.printf(Locale.ROOT, "mode=%s gc=%s layers=%d batch=%d tokens=%d steps=%d: build %.1f s,%s "
                + "%.2f s, %.1f tokens/s, peak RSS %d MiB%n", mode, gc, layers, batch, tokens, steps, buildS, bits, s,
                tps, peakRssKiB() / 1024);
    }

    /** The config's model with its linear layers in NF4 + double quant, filled with random weights layer by layer. */
    static PreTrainedModel quantizedRandom(int layers) {
        PreTrainedModel m = LlamaBench.shapeOnly("tinyllama-1.1b", layers);
        BitsAndBytesConfig bnb = BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4")
                .bnb4bitUseDoubleQuant(true).build();
        bnb.processModelBeforeWeightLoading(m, false);
        m.setQuantizationConfig(bnb);
        long seed = 1;
        // one float32 buffer per shape, refilled for each layer: the float32 model is never held, and no garbage
        // direct buffers wait for a collection (which would inflate the peak resident size)
        Map<List<Long>, Tensor> scratch = new java.util.HashMap<>();
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) {
            if (e.getValue() instanceof Linear4bit q) {
                Tensor w = scratch.computeIfAbsent(List.of(q.outFeatures(), q.inFeatures()),
                        k -> Tensor.zeros(org.peft4j.tensor.DType.F32, k.get(0), k.get(1)));
                LlamaBench.fill(w, 0f, (float) (1 / Math.sqrt(q.inFeatures())), seed++);
                q.setDenseWeight(w);
            }
        }
        scratch.clear();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            Parameter p = e.getValue();
            if (p.hasData()) {
                continue;
            }
            long[] s = p.shape();
            Tensor t = Tensor.zeros(p.dtype(), s);
            if (e.getKey().endsWith("norm.weight")) {
                LlamaBench.fill(t, 1f, 0f, 0);
            } else {
                LlamaBench.fill(t, 0f, (float) (1 / Math.sqrt(s[s.length - 1])), seed++);
            }
            p.setData(t);
        }
        return m;
    }

    /**
     * Bits per parameter of the quantized layers' weights at rest: packed codes, absmax (8-bit with double
     * quantization), the nested absmax, the 16-entry code table and the 256-entry dynamic map, over their elements.
     */
    static double bitsPerParameter(PreTrainedModel m) {
        long bytes = 0;
        long elements = 0;
        for (Module mod : m.namedModules().values()) {
            if (mod instanceof Linear4bit q) {
                QuantState st = q.quantState();
                bytes += q.weight().data().byteSize() + st.absmax().byteSize() + st.code().byteSize();
                if (st.nested() != null) {
                    bytes += st.nested().absmax().byteSize() + st.nested().code().byteSize() + Float.BYTES;
                }
                elements += st.numel();
            }
        }
        return 8.0 * bytes / elements;
    }

    private static long peakRssKiB() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    private static TrainingArguments args(Path out, int steps, boolean gc) {
        return TrainingArguments.builder(out).maxSteps(steps).learningRate(1e-4).saveSteps(1_000_000)
                .loggingSteps(1_000_000).gradientCheckpointing(gc).build();
    }
}
