package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.PromptLearningConfig;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * The PEFT 0.21.2 prompt-tuning / P-tuning fixtures of {@code interop/make_ptune_fixtures.py} and the checks every
 * case runs against them: logits of the loaded adapter, one training step's loss and gradients from PEFT's initial
 * encoder weights, greedy generation with the cache, and the saved {@code prompt_embeddings}.
 */
final class PtuneFixtures {
    static final String GRAD = "grad.";
    /** The dropout-free copies of model folders, made once per run. */
    private static final Map<Path, Path> NO_DROPOUT = new java.util.concurrent.ConcurrentHashMap<>();

    private PtuneFixtures() {
    }

    static Path dir(String c) {
        return Fixtures.root().resolve("ptune").resolve(c);
    }

    static Map<String, Tensor> read(Path file) throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    static Map<String, Tensor> reference(String c) throws Exception {
        return read(dir(c).resolve("reference.safetensors"));
    }

    static JsonObject caseJson(String c) throws Exception {
        return Fixtures.json(dir(c).resolve("case.json"));
    }

    /**
     * The case's base model; GPT-2's fixture config has dropout 0.1, switched off (a copy of the folder with the
     * {@code *_pdrop} fields 0, as the fixture script loads it) so one training step is deterministic.
     */
    static PreTrainedModel base(String c) throws Exception {
        Path src = Fixtures.model(caseJson(c).get("model").getAsString());
        JsonObject config = Fixtures.json(src.resolve("config.json"));
        if (!config.has("resid_pdrop")) {
            return AutoModelForCausalLM.fromPretrained(src);
        }
        Path tmp = NO_DROPOUT.get(src);
        if (tmp != null) {
            return AutoModelForCausalLM.fromPretrained(tmp);
        }
        tmp = Files.createTempDirectory("ptune-no-dropout");
        tmp.toFile().deleteOnExit();
        for (String f : new String[] {"model.safetensors", "generation_config.json"}) {
            Files.copy(src.resolve(f), tmp.resolve(f));
        }
        for (String k : new String[] {"resid_pdrop", "embd_pdrop", "attn_pdrop"}) {
            config.addProperty(k, 0.0);
        }
        Files.writeString(tmp.resolve("config.json"), config.toString());
        for (String f : new String[] {"model.safetensors", "generation_config.json", "config.json"}) {
            tmp.resolve(f).toFile().deleteOnExit();
        }
        NO_DROPOUT.put(src, tmp);
        return AutoModelForCausalLM.fromPretrained(tmp);
    }

    /** max |got - want| / max |want|. */
    static double relErr(float[] got, float[] want) {
        double scale = 0;
        for (float w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        return Fixtures.maxAbsDiff(got, want) / scale;
    }

    /** max |got - want| over the positions whose mask is 1 (padding logits are not defined across implementations). */
    static double maskedMaxAbsDiff(Tensor got, Tensor want, Tensor mask) {
        long[] m = mask.toLongArray();
        long vocab = want.shape()[2];
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        assertThat(got.shape()).containsExactly(want.shape());
        double d = 0;
        for (int p = 0; p < m.length; p++) {
            if (m[p] == 1) {
                for (int v = 0; v < vocab; v++) {
                    int i = (int) (p * vocab + v);
                    d = Math.max(d, Math.abs(g[i] - w[i]));
                }
            }
        }
        return d;
    }

    /** The PEFT-saved adapter, loaded for inference: its logits equal PEFT's on the fixture batch. */
    static PeftModel checkLoadedLogits(String c) throws Exception {
        Map<String, Tensor> ref = reference(c);
        PeftModel pm = PeftModel.fromPretrained(base(c), dir(c).resolve("adapter"));
        Tensor logits = pm.logits(ref.get("input_ids"), ref.get("attention_mask"));
        assertThat(maskedMaxAbsDiff(logits, ref.get("loaded_logits"), ref.get("attention_mask")))
                .as("%s: loaded logits", c).isLessThan(1e-4);
        return pm;
    }

    /** Greedy generation with the cache on the loaded adapter equals PEFT's token for token. */
    static void checkGeneration(String c, PeftModel pm) throws Exception {
        Map<String, Tensor> ref = reference(c);
        long[][] prompts = rows(ref.get("gen_input_ids"));
        long[][] masks = new long[prompts.length][];
        for (int i = 0; i < prompts.length; i++) {
            masks[i] = new long[prompts[i].length];
            java.util.Arrays.fill(masks[i], 1);
        }
        long[][] want = rows(ref.get("gen_output"));
        long[][] got = pm.generate(prompts, masks, GenerationConfig.greedy(want[0].length - prompts[0].length));
        long eos = pm.getBaseModel().config().getInt("eos_token_id");
        for (int i = 0; i < want.length; i++) {
            // PEFT pads a row that ended with eos (pad id 0); compare up to and including the eos
            assertThat(upToEos(got[i], prompts[i].length, eos)).as("%s: greedy generation, row %d", c, i)
                    .containsExactly(upToEos(want[i], prompts[i].length, eos));
        }
    }

    static long[] upToEos(long[] row, int promptLength, long eos) {
        for (int i = promptLength; i < row.length; i++) {
            if (row[i] == eos) {
                return java.util.Arrays.copyOf(row, i + 1);
            }
        }
        return row;
    }

    static long[][] rows(Tensor t) {
        long[] all = t.toLongArray();
        int r = (int) t.shape()[0];
        int n = (int) t.shape()[1];
        long[][] out = new long[r][];
        for (int i = 0; i < r; i++) {
            out[i] = java.util.Arrays.copyOfRange(all, i * n, (i + 1) * n);
        }
        return out;
    }

    /**
     * A trainable model built from the fixture's config with PEFT's initial encoder weights: its loss and the
     * gradient of every trainable parameter after one step equal torch autograd's (1e-4 relative), its logits PEFT's
     * logits, and its saved {@code prompt_embeddings} PEFT's saved tensor.
     */
    static PeftModel checkTrainingStep(String c, PromptLearningConfig config, Path saveTo) throws Exception {
        Map<String, Tensor> ref = reference(c);
        Map<String, Tensor> init = read(dir(c).resolve("init.safetensors"));
        PeftModel pm = Peft.getPeftModel(base(c), config);
        Map<String, org.peft4j.graph.Parameter> params = pm.namedParameters();
        TreeSet<String> trainable = new TreeSet<>();
        params.forEach((k, p) -> {
            if (p.trainable()) {
                trainable.add(k);
            }
        });
        assertThat(trainable).as("%s: PEFT's trainable names", c).isEqualTo(new TreeSet<>(init.keySet()));
        init.forEach((k, t) -> params.get(k).data().writeFloats(t.toFloatArray()));
        Tensor logits = pm.logits(ref.get("input_ids"), ref.get("attention_mask"));
        assertThat(maskedMaxAbsDiff(logits, ref.get("logits"), ref.get("attention_mask"))).as("%s: logits", c)
                .isLessThan(1e-4);
        Batch batch = new Batch(ref.get("input_ids"), ref.get("attention_mask"), ref.get("labels"));
        try (TrainStep step = new TrainStep(pm, OrtRuntime.shared())) {
            TrainStep.Output out = step.run(batch);
            double want = ref.get("loss").toFloatArray()[0];
            assertThat(Math.abs(out.loss() - want) / Math.abs(want)).as("%s: loss %s vs %s", c, out.loss(), want)
                    .isLessThan(1e-4);
            for (String k : init.keySet()) {
                float[] g = out.gradients().get(k).toFloatArray();
                assertThat(relErr(g, ref.get(GRAD + k).toFloatArray())).as("%s: gradient of %s", c, k)
                        .isLessThan(1e-4);
            }
            // with the first label counted, the last virtual position predicts it, as in PEFT's loss
            TrainStep.Output full = step.run(new Batch(ref.get("input_ids"), ref.get("attention_mask"),
                    ref.get("labels_full")));
            double wantFull = ref.get("loss_full").toFloatArray()[0];
            assertThat(Math.abs(full.loss() - wantFull) / Math.abs(wantFull))
                    .as("%s: loss with the first label %s vs %s", c, full.loss(), wantFull).isLessThan(1e-4);
            for (String k : init.keySet()) {
                assertThat(relErr(full.gradients().get(k).toFloatArray(), ref.get("gradfull." + k).toFloatArray()))
                        .as("%s: gradient of %s with the first label", c, k).isLessThan(1e-4);
            }
        }
        pm.savePretrained(saveTo);
        Tensor saved = read(saveTo.resolve("adapter_model.safetensors")).get("prompt_embeddings");
        Tensor peft = read(dir(c).resolve("adapter").resolve("adapter_model.safetensors")).get("prompt_embeddings");
        assertThat(saved.shape()).containsExactly(peft.shape());
        assertThat(Fixtures.maxAbsDiff(saved.toFloatArray(), peft.toFloatArray())).as("%s: saved prompt", c)
                .isLessThan(1e-5);
        assertThat(read(saveTo.resolve("adapter_model.safetensors")).keySet()).containsExactly("prompt_embeddings");
        return pm;
    }

}
