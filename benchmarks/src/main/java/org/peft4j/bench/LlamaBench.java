package org.peft4j.bench;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Builds the benchmark model: a real Hugging Face config from {@code interop/fixtures/configs} with
 * {@code num_hidden_layers} cut down, built shape-only and then filled with random float32 weights in owned direct
 * tensors (no checkpoint is read).
 */
final class LlamaBench {
    private LlamaBench() {
    }

    /** The config {@code interop/fixtures/configs/<name>.json} with {@code layers} decoder layers. */
    static ModelConfig config(String name, int layers) {
        Path file = findConfig(name);
        ModelConfig c = ModelConfig.load(file);
        java.util.Map<String, Object> j = c.toDict();
        j.put("num_hidden_layers", layers);
        return ModelConfig.fromDict(j, file + " (num_hidden_layers=" + layers + ")");
    }

    /** Looks for the fixture from the working directory upwards (run.sh runs from the repository root). */
    static Path findConfig(String name) {
        Path rel = Path.of("interop", "fixtures", "configs", name + ".json");
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve(rel))) {
                return d.resolve(rel);
            }
        }
        throw new IllegalStateException("no " + rel + " in the working directory or above; run from the repository");
    }

    /** A shape-only model for the config. */
    static PreTrainedModel shapeOnly(String name, int layers) {
        return AutoModelForCausalLM.fromConfig(config(name, layers));
    }

    /**
     * The model with random weights: linear weights and embeddings uniform in (-1/sqrt(fan_in), 1/sqrt(fan_in)),
     * norm weights 1.
     */
    static PreTrainedModel withRandomWeights(String name, int layers) {
        PreTrainedModel m = shapeOnly(name, layers);
        long seed = 1;
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            Parameter p = e.getValue();
            long[] s = p.shape();
            Tensor t = Tensor.zeros(p.dtype(), s);
            if (e.getKey().endsWith("norm.weight")) {
                fill(t, 1f, 0f, 0);
            } else {
                fill(t, 0f, (float) (1 / Math.sqrt(s[s.length - 1])), seed++);
            }
            p.setData(t);
        }
        return m;
    }

    /** Fills a float32 tensor with {@code offset + U(-scale, scale)} (xorshift; fast enough for a GiB). */
    static void fill(Tensor t, float offset, float scale, long seed) {
        t.write(b -> fillBuffer(b.asFloatBuffer(), t.numel(), offset, scale, seed));
    }

    private static void fillBuffer(FloatBuffer fb, long n, float offset, float scale, long seed) {
        long x = seed * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
        float[] chunk = new float[1 << 16];
        for (long off = 0; off < n; off += chunk.length) {
            int len = (int) Math.min(chunk.length, n - off);
            for (int i = 0; i < len; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                chunk[i] = offset + scale * ((x >>> 40) * 0x1p-23f - 1f);
            }
            fb.put(chunk, 0, len);
        }
    }

    /** LoRA on every linear layer but lm_head ("all-linear"), r = rank, alpha = 2 r, random A and B (no no-op). */
    static LoraConfig lora(int rank) {
        return LoraConfig.builder().r(rank).loraAlpha(2 * rank).targetModules("all-linear").initLoraWeights(false)
                .build();
    }

    /** The weights "all-linear" targets: every {@link Linear} but the output embedding, by module name. */
    static LinkedHashMap<String, Parameter> allLinearWeights(PreTrainedModel m) {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) {
            if (e.getValue() instanceof Linear && !e.getKey().equals(m.outputEmbeddingsName())) {
                out.put(e.getKey(), ((Linear) e.getValue()).weight());
            }
        }
        return out;
    }

    /** The data of each parameter, to put back after a merge replaced it. */
    static List<Tensor> snapshot(List<Parameter> ps) {
        List<Tensor> out = new ArrayList<>();
        for (Parameter p : ps) {
            out.add(p.data());
        }
        return out;
    }

    /** Token ids [1, tokens], deterministic, below the vocabulary size. */
    static Tensor ids(PreTrainedModel m, int tokens) {
        long[] v = new long[tokens];
        for (int i = 0; i < tokens; i++) {
            v[i] = (1 + 7919L * i) % m.vocabSize();
        }
        return Tensor.of(v, 1, tokens);
    }

    /**
     * The final hidden states [batch, seq, hidden] (decoder layers and final norm, no lm_head), built and run the way
     * {@code PeftModel.logits} / {@code PreTrainedModel.logits} do (graph emitted per call, session cached).
     */
    static Tensor hidden(PreTrainedModel model, PeftModel pm, Tensor ids) {
        Graph g = new Graph();
        Value v = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        CausalLMInput in = CausalLMInput.of(v);
        CausalLMOutput out = pm != null ? pm.forward(g, in) : model.forward(g, in);
        g.output("hidden", out.hiddenStates());
        return OrtRuntime.shared().compile(g, p -> false).run(Map.of("input_ids", ids)).get("hidden");
    }

    /**
     * {@code count} batches of {@code batch} x {@code tokens} deterministic token ids below {@code vocab}, all
     * attended, labels equal to the inputs.
     */
    static java.util.List<org.peft4j.data.Batch> syntheticBatches(int count, int batch, int tokens, long vocab) {
        java.util.List<org.peft4j.data.Batch> out = new java.util.ArrayList<>();
        for (int b = 0; b < count; b++) {
            long[] ids = new long[batch * tokens];
            long[] mask = new long[ids.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (1 + 7919L * (i + b * 31L)) % vocab;
                mask[i] = 1;
            }
            Tensor t = Tensor.of(ids, batch, tokens);
            out.add(new org.peft4j.data.Batch(t, Tensor.of(mask, batch, tokens), t));
        }
        return out;
    }
}
