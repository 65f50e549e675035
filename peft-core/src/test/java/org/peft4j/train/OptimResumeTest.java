package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.testutil.Fixtures;

/**
 * Training with bitsandbytes' 8-bit and paged optimizers through the Trainer: a run interrupted and resumed from a
 * checkpoint ends with bit-identical parameters to the uninterrupted run (8-bit codes and absmax round-trip through
 * {@code optimizer.safetensors}); a checkpoint of another optimizer state is refused.
 */
class OptimResumeTest {

    static TrainingArguments.Builder args(Path out, String optim) {
        return TrainingArguments.builder(out).optim(optim).learningRate(5e-3).maxSteps(6).warmupSteps(1)
                .gradientAccumulationSteps(1).weightDecay(0.01).saveSteps(3).loggingSteps(3);
    }

    static Map<String, float[]> trained(PreTrainedModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            out.put(e.getKey(), e.getValue().data().toFloatArray());
        }
        return out;
    }

    static void assertResumeIsExact(String optim, Path out) throws Exception {
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            PreTrainedModel a = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            List<Double> full = new Trainer(a, args(out.resolve("full"), optim).build(), rt).showProgress(false)
                    .train(ResumeTest.batches());
            Path out2 = out.resolve("split");
            PreTrainedModel b = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            new Trainer(b, args(out2, optim).maxSteps(6).build(), rt).showProgress(false)
                    .train(ResumeTest.batches());
            // the checkpoint of step 3 holds 8-bit codes for lm_head (8192 elements) and 32-bit moments for the
            // embedding (transformers' override) and the small norm weights
            Path ckpt = out2.resolve("checkpoint-3");
            try (SafeTensors st = SafeTensors.open(ckpt.resolve("optimizer.safetensors"))) {
                assertThat(st.metadata()).containsEntry("optim", optim).containsEntry("step", "3");
                if (optim.contains("8bit")) {
                    assertThat(st.get("state1.lm_head.weight").dtype()).isEqualTo(DType.U8);
                    assertThat(st.get("state2.lm_head.weight").dtype()).isEqualTo(DType.U8);
                    assertThat(st.get("absmax1.lm_head.weight").numel()).isEqualTo(8192 / 256);
                    assertThat(st.get("state1.model.embed_tokens.weight").dtype()).isEqualTo(DType.F32);
                }
                assertThat(st.get("state1.model.norm.weight").dtype()).isEqualTo(DType.F32);
            }
            PreTrainedModel c = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            List<Double> resumed = new Trainer(c, args(out.resolve("resumed"), optim).build(), rt)
                    .showProgress(false).train(ResumeTest.batches(), ckpt);
            assertThat(resumed).isEqualTo(full.subList(3, 6));
            Map<String, float[]> want = trained(a);
            Map<String, float[]> got = trained(c);
            for (String k : want.keySet()) {
                assertThat(got.get(k)).as(optim + " " + k).isEqualTo(want.get(k));
            }
        }
    }

    @Test
    void eightBitResumeIsBitIdentical(@TempDir Path out) throws Exception {
        assertResumeIsExact("adamw_8bit", out);
    }

    @Test
    void pagedEightBitResumeIsBitIdenticalAndLeavesNoStateFile(@TempDir Path out) throws Exception {
        String tmp = System.getProperty("java.io.tmpdir");
        List<Path> before = pagedFiles(Path.of(tmp));
        assertResumeIsExact("paged_adamw_8bit", out);
        assertThat(pagedFiles(Path.of(tmp))).isEqualTo(before);
    }

    @Test
    void pagedThirtyTwoBitResumeIsBitIdentical(@TempDir Path out) throws Exception {
        assertResumeIsExact("paged_adamw_32bit", out);
    }

    /** The Trainer really uses the optim it is given: 8-bit states train to other weights than torch's AdamW. */
    @Test
    void theOptimChangesTheTrajectoryAndForeignCheckpointsAreRefused(@TempDir Path out) throws Exception {
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            PreTrainedModel a = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            List<Double> torch = new Trainer(a, args(out.resolve("torch"), "adamw_torch").build(), rt)
                    .showProgress(false).train(ResumeTest.batches());
            PreTrainedModel b = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            List<Double> bnb = new Trainer(b, args(out.resolve("bnb"), "adamw_8bit").build(), rt)
                    .showProgress(false).train(ResumeTest.batches());
            assertThat(bnb.get(0)).isEqualTo(torch.get(0)); // same weights before the first update
            assertThat(bnb.get(5)).isNotEqualTo(torch.get(5));
            PreTrainedModel c = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            float[] before = c.namedParameters().get("lm_head.weight").data().toFloatArray();
            assertThatThrownBy(() -> new Trainer(c, args(out.resolve("x"), "adamw_8bit").build(), rt)
                    .showProgress(false).train(ResumeTest.batches(), out.resolve("torch").resolve("checkpoint-3")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("was saved with optim 'adamw_torch'")
                    .hasMessageContaining("this run's optim 'adamw_8bit'")
                    .hasMessageContaining("resume with optim='adamw_torch'");
            // refused before anything was loaded into the model
            assertThat(c.namedParameters().get("lm_head.weight").data().toFloatArray()).isEqualTo(before);
            // an alias and the paged twin read the same states: adamw_bnb_8bit resumes an adamw_8bit checkpoint
            PreTrainedModel d = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
            List<Double> alias = new Trainer(d, args(out.resolve("alias"), "paged_adamw_8bit").build(), rt)
                    .showProgress(false).train(ResumeTest.batches(), out.resolve("bnb").resolve("checkpoint-3"));
            assertThat(alias).isEqualTo(bnb.subList(3, 6));
        }
    }

    static List<Path> pagedFiles(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("peft4j-paged-optimizer-")).sorted()
                    .collect(java.util.stream.Collectors.toList());
        }
    }
}
