package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.models.gemma2.Gemma2ForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.testutil.FullGradients;
import org.peft4j.train.TrainStep;

/**
 * Qwen3 and Gemma 2 against transformers 5.23 (fixtures from interop/make_family_fixtures_qwen3_gemma2.py): logits
 * (plain and a left-padded batch, over sliding-window layers of window 4 on 7 tokens), module and parameter names,
 * greedy generation with the cache, full fine-tuning gradients, float16 logits, shape-only counts of the real
 * Qwen3-0.6B / Qwen3-8B / Gemma-2-2B configurations against torch's meta-device counts, and CUDA op coverage.
 */
class Qwen3Gemma2ParityTest {
    static final double TOL = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void logitsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        try (SafeTensors ref = SafeTensors.open(Fixtures.reference(name))) {
            Tensor logits = m.logits(ref.get("input_ids"), null);
            assertThat(logits.shape()).containsExactly(ref.get("logits").shape());
            assertThat(Fixtures.maxAbsDiff(logits.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(TOL);
            Tensor padded = m.logits(ref.get("padded_input_ids"), ref.get("padded_attention_mask"));
            assertThat(maxDiffOnValid(padded, ref.get("padded_logits"), ref.get("padded_valid"))).isLessThan(TOL);
        }
    }

    static double maxDiffOnValid(Tensor got, Tensor want, Tensor validMask) {
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        long[] valid = validMask.toLongArray();
        int vocab = (int) got.dim(-1);
        double maxDiff = 0;
        int checked = 0;
        for (int pos = 0; pos < valid.length; pos++) {
            if (valid[pos] == 0) {
                continue;
            }
            checked++;
            for (int v = 0; v < vocab; v++) {
                maxDiff = Math.max(maxDiff, Math.abs(g[pos * vocab + v] - w[pos * vocab + v]));
            }
        }
        assertThat(checked).isGreaterThan(valid.length / 2);
        return maxDiff;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void moduleAndParameterNamesMatchTransformers(String name) throws Exception {
        JsonObject ref = Fixtures.referenceJson(name);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model(name).resolve(
                "config.json")));
        List<String> modules = new ArrayList<>();
        for (JsonElement e : ref.getAsJsonArray("named_modules")) {
            modules.add(e.getAsString());
        }
        assertThat(new ArrayList<>(m.namedModules().keySet())).isEqualTo(modules);
        Map<String, List<Long>> want = new LinkedHashMap<>();
        for (JsonElement e : ref.getAsJsonArray("named_parameters")) {
            JsonArray pair = e.getAsJsonArray();
            List<Long> shape = new ArrayList<>();
            pair.get(1).getAsJsonArray().forEach(d -> shape.add(d.getAsLong()));
            want.put(pair.get(0).getAsString(), shape);
        }
        Map<String, List<Long>> got = new LinkedHashMap<>();
        m.namedParameters().forEach((k, p) -> {
            List<Long> shape = new ArrayList<>();
            for (long d : p.shape()) {
                shape.add(d);
            }
            got.put(k, shape);
        });
        assertThat(got).containsExactlyEntriesOf(want);
        assertThat(m.numParameters()).isEqualTo(ref.get("num_parameters").getAsLong());
        assertThat(m.transformersClassName()).isEqualTo(ref.get("model_class").getAsString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void stateDictRoundTripWritesTransformersKeys(String name, @TempDir Path tmp) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        m.savePretrained(tmp);
        try (SafeTensors saved = SafeTensors.open(tmp.resolve("model.safetensors"));
                SafeTensors orig = SafeTensors.open(Fixtures.model(name).resolve("model.safetensors"))) {
            assertThat(saved.keys()).containsExactlyInAnyOrderElementsOf(orig.keys());
        }
        try (SafeTensors ref = SafeTensors.open(Fixtures.reference(name))) {
            Tensor again = AutoModelForCausalLM.fromPretrained(tmp).logits(ref.get("input_ids"), null);
            assertThat(Fixtures.maxAbsDiff(again.toFloatArray(), ref.get("logits").toFloatArray())).isLessThan(TOL);
        }
    }

    static long[][] rows(Tensor t) {
        long[] flat = t.toLongArray();
        int n = (int) t.dim(0);
        int m = (int) t.dim(1);
        long[][] out = new long[n][m];
        for (int i = 0; i < n; i++) {
            System.arraycopy(flat, i * m, out[i], 0, m);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void greedyGenerationsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        JsonObject ref = Fixtures.referenceJson(name);
        int maxNew = ref.get("max_new_tokens").getAsInt();
        Generator gen = new Generator(m);
        try (SafeTensors f = SafeTensors.open(Fixtures.reference(name))) {
            for (String k : List.of("gen0", "gen1", "gen_eos")) {
                GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(maxNew)
                        .eosTokenId(ref.get(k + "_token_id") != null ? ref.get(k + "_token_id").getAsLong()
                                : ref.get(k + "_eos_token_id").getAsLong()).build();
                long[] out = gen.generate(rows(f.get(k + "_prompt"))[0], cfg);
                assertThat(out).as(k).containsExactly(rows(f.get(k + "_output"))[0]);
            }
            GenerationConfig batch = GenerationConfig.builder().maxNewTokens(maxNew)
                    .eosTokenId(ref.get("genb_eos_token_id").getAsLong())
                    .padTokenId(ref.get("pad_token_id").getAsLong()).build();
            long[][] outB = gen.generate(rows(f.get("genb_prompt")), rows(f.get("genb_mask")), batch);
            long[][] wantB = rows(f.get("genb_output"));
            for (int b = 0; b < wantB.length; b++) {
                assertThat(outB[b]).as("row " + b).containsExactly(wantB[b]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void fullFineTuningGradientsMatchTorch(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("reference").resolve(name
                + "-grads.safetensors"))) {
            FullGradients out = FullGradients.of(m, ref.get("input_ids"), null, ref.get("labels"));
            assertThat(out.loss).isCloseTo(ref.get("loss").getFloat(0), within(1e-5));
            assertThat(out.gradients).hasSize(ref.keys().size() - 3);
            for (Map.Entry<String, float[]> e : out.gradients.entrySet()) {
                float[] want = ref.get("grad." + e.getKey()).toFloatArray();
                assertThat(FullGradients.relativeL2(e.getValue(), want)).as(e.getKey()).isLessThan(1e-4);
            }
        }
    }

    /** Tolerance and rationale as {@code HalfPrecisionParityTest} (|logit| below 10 here). */
    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void float16LogitsMatchTransformers(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name), DType.F16);
        try (SafeTensors ref = SafeTensors.open(Fixtures.root().resolve("half").resolve(name + ".safetensors"))) {
            Tensor logits = m.logits(ref.get("input_ids"), ref.get("attention_mask"));
            assertThat(logits.dtype()).isEqualTo(DType.F16);
            assertThat(maxDiffOnValid(logits, ref.get("logits_f16"), ref.get("attention_mask")))
                    .as("%s float16 logits vs transformers", name).isLessThan(HalfPrecisionParityTest.TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3-0.6b", "qwen3-8b", "gemma-2-2b"})
    void realConfigurationCountsMatchTorch(String name) throws Exception {
        Path configs = Fixtures.root().resolve("configs");
        JsonObject want = Fixtures.json(configs.resolve("counts-qwen3-gemma2.json")).getAsJsonObject(name);
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(configs.resolve(name + ".json")));
        assertThat(m.numParameters()).isEqualTo(want.get("num_parameters").getAsLong());
        assertThat(m.namedParameters(false)).hasSize(want.get("state_dict_num_keys").getAsInt());
        for (String list : List.of("layer0_parameters", "non_layer_parameters")) {
            for (JsonElement e : want.getAsJsonArray(list)) {
                JsonArray pair = e.getAsJsonArray();
                Parameter p = m.getParameter(pair.get(0).getAsString());
                assertThat(p).as(pair.get(0).getAsString()).isNotNull();
                List<Long> shape = new ArrayList<>();
                pair.get(1).getAsJsonArray().forEach(d -> shape.add(d.getAsLong()));
                assertThat(p.shape()).as(pair.get(0).getAsString())
                        .containsExactly(shape.stream().mapToLong(Long::longValue).toArray());
            }
        }
        assertThat(m.parameters()).noneMatch(Parameter::hasData);
    }

    @Test
    void gemma2ConfigDefaultsAreTransformers() {
        Gemma2ForCausalLM m = (Gemma2ForCausalLM) AutoModelForCausalLM.fromConfig(ModelConfig.parse(
                "{\"model_type\": \"gemma2\", \"num_hidden_layers\": 3, \"sliding_window\": null,"
                + " \"final_logit_softcapping\": null}"));
        assertThat(m.gemma2Config().layerTypes()).containsExactly("sliding_attention", "full_attention",
                "sliding_attention");
        assertThat(m.gemma2Config().headDim()).isEqualTo(256);
        assertThat(m.gemma2Config().attnLogitSoftcapping()).isEqualTo(50.0);
        assertThat(m.gemma2Config().finalLogitSoftcapping()).isNull();
        assertThat(m.gemma2Config().slidingWindow()).isNull();
        assertThat(m.tiedWeightKeys()).containsExactly("lm_head.weight");
        assertThat(m.decayParameterNames()).noneMatch(n -> n.contains("norm"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen3", "gemma2"})
    void everyEmittedOpHasACudaKernel(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model(name).resolve(
                "config.json")));
        Set<String> ops = new TreeSet<>();
        collect(new Generator(m).decodingGraph(), ops);
        Graph training = new Graph().setTraining(true);
        Value ids = training.input("input_ids", DType.I64, Dim.of("b"), Dim.of("s"));
        Value mask = training.input("attention_mask", DType.I64, Dim.of("b"), Dim.of("s"));
        m.forward(training, CausalLMInput.of(ids).attentionMask(mask));
        collect(training, ops);
        collect(new TrainStep(m, OrtRuntime.shared()).graph(), ops);
        assertThat(ops).contains("Gemm", "Softmax").allSatisfy(op -> assertThat(CudaOpCoverageTest.hasCudaKernel(op))
                .as("%s has a definition that says CUDA", op).isTrue());
        if (name.equals("gemma2")) {
            assertThat(ops).contains("Tanh");
        }
    }

    private static void collect(Graph g, Set<String> ops) {
        for (Node n : g.nodes()) {
            ops.add(n.domain().isEmpty() ? n.opType() : n.domain() + ":" + n.opType());
        }
    }
}
