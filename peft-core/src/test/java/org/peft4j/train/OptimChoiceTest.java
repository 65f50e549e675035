package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.Tensor;

/**
 * {@code TrainingArguments.optim} against transformers 5.23 (interop/make_optim_fixtures.py): its names, default and
 * error message, the optimizer class and arguments it derives per name, and the optimizer-state bytes per parameter
 * of each optimizer against bitsandbytes' and torch's state tensors.
 */
class OptimChoiceTest {

    static JsonObject meta() throws Exception {
        return BnbAdamWParityTest.meta();
    }

    @Test
    void namesDefaultAndMessagesAreTransformers() throws Exception {
        JsonObject meta = meta();
        List<String> names = new ArrayList<>();
        for (OptimizerNames n : OptimizerNames.values()) {
            names.add(n.value());
        }
        List<String> want = new ArrayList<>();
        for (JsonElement e : meta.getAsJsonArray("optimizer_names")) {
            want.add(e.getAsString());
        }
        assertThat(names).isEqualTo(want);
        TrainingArguments dflt = TrainingArguments.builder(Path.of("out")).build();
        assertThat(dflt.optim().value()).isEqualTo(meta.get("default_optim").getAsString());
        assertThat(dflt.optimArgs()).isNull();
        assertThatThrownBy(() -> TrainingArguments.builder(Path.of("out")).optim("adamw_9bit"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(meta.get("unknown_optim_message").getAsString());
        assertThatThrownBy(() -> TrainingArguments.builder(Path.of("out")).optim("adafactor"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Trainer cannot instantiate unsupported optimizer: adafactor (peft4j supports "
                        + "['adamw_torch', 'adamw_torch_fused', 'adamw_bnb_8bit', 'adamw_8bit', "
                        + "'paged_adamw_32bit', 'paged_adamw_8bit'])");
        for (String ok : List.of("adamw_torch", "adamw_torch_fused", "adamw_8bit", "adamw_bnb_8bit",
                "paged_adamw_8bit", "paged_adamw_32bit")) {
            assertThat(TrainingArguments.builder(Path.of("out")).optim(ok).build().optim().value()).isEqualTo(ok);
        }
    }

    @Test
    void optimArgsParseAsTransformers() {
        TrainingArguments a = TrainingArguments.builder(Path.of("out")).optimArgs("beta3 = 0.9999, alpha=5").build();
        assertThat(a.optimArgsMap()).containsExactly(Map.entry("beta3", "0.9999"), Map.entry("alpha", "5"));
        assertThat(TrainingArguments.parseOptimArgs("")).isEmpty();
        // transformers: `key, value = mapping.split("=")` fails on a pair without exactly one '='
        assertThatThrownBy(() -> TrainingArguments.builder(Path.of("out")).optimArgs("alpha"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'alpha'");
        assertThatThrownBy(() -> TrainingArguments.builder(Path.of("out")).optimArgs("a=1,"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** transformers' get_optimizer_cls_and_kwargs: the class, optim_bits, is_paged, betas and eps per name. */
    @Test
    void eachNameBuildsTheOptimizerTransformersBuilds(@TempDir Path dir) throws Exception {
        JsonObject meta = meta();
        JsonObject mapping = meta.getAsJsonObject("transformers_mapping");
        for (String name : mapping.keySet()) {
            JsonObject m = mapping.getAsJsonObject(name);
            JsonObject kw = m.getAsJsonObject("kwargs");
            TrainingArguments args = TrainingArguments.builder(dir).optim(name)
                    .adamBeta1(kw.getAsJsonArray("betas").get(0).getAsDouble())
                    .adamBeta2(kw.getAsJsonArray("betas").get(1).getAsDouble())
                    .adamEpsilon(kw.get("eps").getAsDouble()).build();
            try (Optimizer opt = OptimizerStep.create(args, Set.of())) {
                assertThat(opt.name().value()).isEqualTo(name);
                if (m.get("class").getAsString().startsWith("bitsandbytes.optim")) {
                    assertThat(opt).as(name).isInstanceOf(BnbAdamW.class);
                    BnbAdamW b = (BnbAdamW) opt;
                    assertThat(opt.name().optimBits()).as(name).isEqualTo(kw.get("optim_bits").getAsInt());
                    assertThat(b.stateFile() != null).as(name + " paged").isEqualTo(kw.get("is_paged").getAsBoolean());
                    assertThat(b.usesEightBitStates("w", BnbAdamW.MIN_8BIT_SIZE)).as(name)
                            .isEqualTo(kw.get("optim_bits").getAsInt() == 8);
                } else {
                    assertThat(m.get("class").getAsString()).isEqualTo("torch.optim.adamw.AdamW");
                    assertThat(opt).as(name).isInstanceOf(AdamW.class);
                }
            }
        }
    }

    /**
     * Optimizer-state bytes per parameter, against the nbytes of bitsandbytes' / torch's state tensors: 8 bytes per
     * element for 32-bit moments; for 8-bit ones 2 bytes per element plus 8 per 256-block (2.03125 per element).
     */
    @Test
    void stateBytesPerParameterMatchTheReferenceStates() throws Exception {
        JsonObject meta = meta();
        Map<String, Tensor> ref = BnbAdamWParityTest.tensors();
        JsonObject bytes = meta.getAsJsonObject("state_bytes");
        for (String name : bytes.keySet()) {
            TrainingArguments args = TrainingArguments.builder(Path.of("out")).optim(name).build();
            try (Optimizer opt = OptimizerStep.create(args, Set.of())) {
                opt.beginStep();
                for (String p : BnbAdamWParityTest.PARAMS) {
                    float[] w = ref.get("init." + p).toFloatArray();
                    assertThat(opt.stateBytes(p)).isZero();
                    opt.update(p, w, ref.get("grad.1." + p).toFloatArray(), 1e-3, 0.0);
                    assertThat(opt.stateBytes(p)).as(name + " " + p)
                            .isEqualTo(bytes.getAsJsonObject(name).get(p).getAsLong());
                }
            }
        }
        // per element of a large parameter: 8 bytes (32-bit moments) vs 2 + 8 / 256 (8-bit codes + block absmax)
        try (BnbAdamW opt = new BnbAdamW(OptimizerNames.ADAMW_8BIT, 0.9, 0.999, 1e-8, Set.of(), null)) {
            opt.beginStep();
            opt.update("w", new float[1 << 20], new float[1 << 20], 1e-3, 0);
            assertThat(opt.stateBytes("w") / (double) (1 << 20)).isEqualTo(2.03125);
        }
        try (BnbAdamW opt = new BnbAdamW(OptimizerNames.ADAMW_8BIT, 0.9, 0.999, 1e-8, Set.of("emb"), null)) {
            opt.beginStep();
            opt.update("emb", new float[8192], new float[8192], 1e-3, 0);
            assertThat(opt.stateBytes("emb")).as("embedding override: 32-bit").isEqualTo(8L * 8192);
        }
    }

    /** paged_* keeps its states in a mapped file (deleted on close) and computes exactly the unpaged update. */
    @Test
    void pagedIsTheUnpagedUpdateBitForBit(@TempDir Path dir) throws Exception {
        Map<String, Tensor> ref = BnbAdamWParityTest.tensors();
        for (OptimizerNames[] pair : new OptimizerNames[][] {{OptimizerNames.ADAMW_8BIT,
                OptimizerNames.PAGED_ADAMW_8BIT}, {OptimizerNames.PAGED_ADAMW, OptimizerNames.PAGED_ADAMW}}) {
            BnbAdamW heap = pair[0] == OptimizerNames.PAGED_ADAMW
                    ? heapTwin32() : new BnbAdamW(pair[0], 0.9, 0.99, 1e-7, Set.of(), null);
            Path file;
            try (heap; BnbAdamW paged = new BnbAdamW(pair[1], 0.9, 0.99, 1e-7, Set.of(), dir)) {
                assertThat(heap.stateFile()).isNull();
                file = paged.stateFile();
                assertThat(file).exists().hasParent(dir);
                Map<String, float[]> a = new java.util.LinkedHashMap<>();
                Map<String, float[]> b = new java.util.LinkedHashMap<>();
                for (String p : BnbAdamWParityTest.PARAMS) {
                    a.put(p, ref.get("init." + p).toFloatArray());
                    b.put(p, ref.get("init." + p).toFloatArray());
                }
                for (int s = 1; s <= 4; s++) {
                    heap.beginStep();
                    paged.beginStep();
                    for (String p : BnbAdamWParityTest.PARAMS) {
                        float[] g = ref.get("grad." + s + "." + p).toFloatArray();
                        heap.update(p, a.get(p), g, 1e-2, 0.05);
                        paged.update(p, b.get(p), g, 1e-2, 0.05);
                        assertThat(b.get(p)).isEqualTo(a.get(p));
                    }
                }
                Map<String, Tensor> sa = heap.stateTensors();
                Map<String, Tensor> sb = paged.stateTensors();
                assertThat(sb.keySet()).isEqualTo(sa.keySet());
                for (String k : sa.keySet()) {
                    assertThat(sb.get(k).contentEquals(sa.get(k))).as(k).isTrue();
                }
                assertThat(Files.size(file)).isGreaterThanOrEqualTo(paged.stateBytes("big")
                        + paged.stateBytes("vec") + paged.stateBytes("small"));
            }
            assertThat(file).doesNotExist();
        }
    }

    /** bitsandbytes' 32-bit AdamW on the heap: paged_adamw_32bit's update without paging (a test-only twin). */
    private static BnbAdamW heapTwin32() {
        return new BnbAdamW(OptimizerNames.PAGED_ADAMW, 0.9, 0.99, 1e-7, Set.of(), null,
                BnbAdamW.StateRounding.LOOKUP_TABLE, false);
    }
}
