package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Parameter;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * QLoRA training runs that stop and resume: on the 4-bit tiny Llama saved by transformers + bnb
 * ({@code interop/fixtures/layer/qlora/base}), LoRA trained with bnb's paged 8-bit AdamW and gradient checkpointing
 * for 6 steps ends with the same adapter, bit for bit, as 3 steps, a checkpoint, and 3 resumed steps; and greedy
 * generation with the key/value cache on the 4-bit base plus that adapter picks the same tokens as re-running the
 * whole sequence without a cache.
 */
class QloraTrainingResumeTest {
    private static Path base() {
        return Fixtures.root().resolve("layer").resolve("qlora").resolve("base");
    }

    private static List<Batch> batches() {
        long[][] seqs = {{7, 21, 3, 88, 14, 60, 5, 31}, {5, 31, 9, 42, 11, 2, 70, 8}, {1, 2, 3, 4, 5, 6, 7, 8}};
        List<Batch> out = new ArrayList<>();
        for (long[] s : seqs) {
            long[] mask = new long[s.length];
            Arrays.fill(mask, 1);
            out.add(new Batch(Tensor.of(s, 1, s.length), Tensor.of(mask, 1, s.length), Tensor.of(s, 1, s.length)));
        }
        return out;
    }

    /** The 4-bit base, prepared for k-bit training, with LoRA r=64 on q_proj / v_proj (lora_A: 4096 elements). */
    private static PeftModel model() throws Exception {
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(base());
        assertThat(base.getSubmodule("model.layers.0.self_attn.q_proj")).isInstanceOf(Linear4bit.class);
        KbitTraining.prepareModelForKbitTraining(base, true);
        return Peft.getPeftModel(base, LoraConfig.builder().r(64).loraAlpha(16).loraDropout(0.1)
                .targetModules("q_proj", "v_proj").build());
    }

    private static TrainingArguments.Builder args(Path out) {
        return TrainingArguments.builder(out).optim("paged_adamw_8bit").gradientCheckpointing(true)
                .learningRate(5e-3).maxSteps(6).warmupSteps(1).weightDecay(0.01).saveSteps(3).loggingSteps(3);
    }

    private static Map<String, float[]> adapter(PeftModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            if (e.getKey().contains("lora_")) {
                out.put(e.getKey(), e.getValue().data().toFloatArray());
            }
        }
        return out;
    }

    @Test
    void resumedQloraRunWithPaged8bitStatesIsBitIdenticalAndCachedGenerationAgrees(@TempDir Path out)
            throws Exception {
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optIntraOpThreads(1).build())) {
            PeftModel a = model();
            List<Double> full = new Trainer(a, args(out.resolve("full")).build(), rt).showProgress(false)
                    .train(batches());
            Path split = out.resolve("split");
            new Trainer(model(), args(split).build(), rt).showProgress(false).train(batches());
            Path ckpt = split.resolve("checkpoint-3");
            try (SafeTensors st = SafeTensors.open(ckpt.resolve("optimizer.safetensors"))) {
                assertThat(st.metadata()).containsEntry("optim", "paged_adamw_8bit");
                String a0 = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight";
                assertThat(st.get("state1." + a0).dtype()).isEqualTo(DType.U8);
                assertThat(st.get("absmax2." + a0).numel()).isEqualTo(4096 / 256);
            }
            PeftModel c = model();
            List<Double> resumed = new Trainer(c, args(out.resolve("resumed")).build(), rt).showProgress(false)
                    .train(batches(), ckpt);
            assertThat(resumed).isEqualTo(full.subList(3, 6));
            assertThat(full.get(5)).isLessThan(full.get(0));
            Map<String, float[]> want = adapter(a);
            Map<String, float[]> got = adapter(c);
            assertThat(got.keySet()).isEqualTo(want.keySet()).hasSize(8);
            for (String k : want.keySet()) {
                assertThat(got.get(k)).as(k).isEqualTo(want.get(k));
            }

            // generation on the 4-bit base + trained adapter: the cache changes nothing
            long[] prompt = {7, 21, 3, 88};
            long[] cached = new Generator(c).generate(prompt, GenerationConfig.greedy(6));
            long[] seq = prompt.clone();
            for (int step = 0; step < 6; step++) {
                Tensor logits = c.logits(Tensor.of(seq, 1, seq.length), null);
                float[] v = logits.toFloatArray();
                int vocab = (int) logits.dim(2);
                int best = 0;
                for (int i = 1; i < vocab; i++) {
                    if (v[(seq.length - 1) * vocab + i] > v[(seq.length - 1) * vocab + best]) {
                        best = i;
                    }
                }
                seq = Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = best;
            }
            assertThat(cached).containsExactly(seq);
        }
    }
}
