package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.AdapterSelection;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * PEFT's per-call {@code adapter_names} (mixed-batch LoRA inference) against PEFT 0.21.2
 * ({@code interop/fixtures/mixed-batch}, made by interop/make_mixed_batch_fixtures.py): two LoRA adapters of different
 * r/alpha on Linear (Conv1D for GPT-2) and Embedding layers, rows ["a", "b", "__base__", "a"]: logits and greedy
 * generation equal PEFT's; threads passing their own adapters at once all get the single-adapter answers.
 */
class MixedBatchLoraTest {
    static final double TOL = 1e-4;
    static final List<String> NAMES = List.of("a", "b", "__base__", "a");

    static Path dir(String model) {
        return Fixtures.root().resolve("mixed-batch").resolve(model);
    }

    static PeftModel load(String model) throws Exception {
        PeftModel pm = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(Fixtures.model(model)),
                dir(model).resolve("a"), "a", false);
        pm.loadAdapter(dir(model).resolve("b"), "b", false);
        return pm;
    }

    static Map<String, Tensor> expected(String model) throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(dir(model).resolve("expected.safetensors"))) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    /** Max |got - want| over row {@code gotRow} of got and row {@code wantRow} of want ([batch, seq, vocab]). */
    static double rowDiff(Tensor got, int gotRow, Tensor want, int wantRow) {
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        int n = (int) (want.dim(1) * want.dim(2));
        double max = 0;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, Math.abs(g[gotRow * n + i] - w[wantRow * n + i]));
        }
        return max;
    }

    static Tensor ones(Tensor ids) {
        long[] m = new long[(int) (ids.dim(0) * ids.dim(1))];
        java.util.Arrays.fill(m, 1);
        return Tensor.of(m, ids.dim(0), ids.dim(1));
    }

    static String key(String adapter) {
        return adapter.equals("__base__") ? "logits_base" : "logits_" + adapter;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void mixedBatchLogitsAndGenerateMatchPeft(String model) throws Exception {
        Map<String, Tensor> want = expected(model);
        Tensor ids = want.get("input_ids");
        try (PeftModel pm = load(model)) {
            Tensor got = pm.logits(ids, ones(ids), NAMES);
            for (int row = 0; row < 4; row++) {
                assertThat(rowDiff(got, row, want.get("logits"), row)).as("row %d", row).isLessThan(TOL);
            }
            // the rows really differ: a mix-up of adapters would be seen
            assertThat(rowDiff(want.get("logits_a"), 0, want.get("logits_b"), 0)).isGreaterThan(1e-2);
            assertThat(rowDiff(want.get("logits_a"), 1, want.get("logits_base"), 1)).isGreaterThan(1e-2);
            // the ordinary single-adapter path is unchanged
            assertThat(pm.activeAdapter()).isEqualTo("a");
            Tensor plain = pm.logits(ids, ones(ids));
            for (int row = 0; row < 4; row++) {
                assertThat(rowDiff(plain, row, want.get("logits_a"), row)).isLessThan(TOL);
            }
            long[][] prompts = new long[4][];
            long[] flat = ids.toLongArray();
            for (int b = 0; b < 4; b++) {
                prompts[b] = java.util.Arrays.copyOfRange(flat, b * 6, b * 6 + 6);
            }
            GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(5).eosTokenIds(List.of(-1L)).build();
            long[][] gen = pm.generate(prompts, null, cfg, NAMES);
            long[] wantGen = want.get("generated").toLongArray();
            for (int b = 0; b < 4; b++) {
                assertThat(gen[b]).as("row %d", b).containsExactly(
                        java.util.Arrays.copyOfRange(wantGen, b * 11, b * 11 + 11));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha"})
    void threadsWithTheirOwnAdaptersGetTheSingleAdapterAnswers(String model) throws Exception {
        Map<String, Tensor> want = expected(model);
        Tensor ids = want.get("input_ids");
        List<String> choices = List.of("a", "b", "__base__");
        try (PeftModel pm = load(model)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<String>> futures = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int seed = t;
                    futures.add(pool.submit(() -> {
                        Random rnd = new Random(seed);
                        for (int call = 0; call < 6; call++) {
                            List<String> names = new ArrayList<>();
                            for (int b = 0; b < 4; b++) {
                                names.add(choices.get(rnd.nextInt(3)));
                            }
                            Tensor got = pm.logits(ids, ones(ids), names);
                            for (int b = 0; b < 4; b++) {
                                double d = rowDiff(got, b, want.get(key(names.get(b))), b);
                                if (d > TOL) {
                                    return "thread " + seed + " call " + call + " row " + b + " " + names + ": " + d;
                                }
                            }
                        }
                        return "ok";
                    }));
                }
                for (Future<String> f : futures) {
                    assertThat(f.get()).isEqualTo("ok");
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-mha"})
    void peftsRulesAndMessages(String model) throws Exception {
        Tensor ids = expected(model).get("input_ids");
        try (PeftModel pm = load(model)) {
            assertThatThrownBy(() -> pm.logits(ids, null, List.of("a", "c", "zz", "a")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("Trying to infer with non-existing adapter(s): c, zz");
            assertThatThrownBy(() -> pm.logits(ids, null, List.of("a", "b")))
                    .hasMessage("Length of `adapter_names` should be the same as the number of inputs, but got 2 and 4 "
                            + "respectively.");
            Graph train = new Graph().setTraining(true);
            Value x = train.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
            assertThatThrownBy(() -> pm.forward(train, CausalLMInput.of(x), new AdapterSelection(NAMES)))
                    .hasMessage("Cannot pass `adapter_names` when the model is in training mode.");
            // a graph emitted without a selection has no mask inputs
            Graph plain = new Graph();
            pm.forward(plain, CausalLMInput.of(plain.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"))));
            assertThat(plain.inputs()).hasSize(1);
            pm.mergeAdapter();
            assertThatThrownBy(() -> pm.logits(ids, null, NAMES))
                    .hasMessage("Cannot pass `adapter_names` when there are merged adapters, please call "
                            + "`unmerge_adapter` first.");
        }
    }
}
