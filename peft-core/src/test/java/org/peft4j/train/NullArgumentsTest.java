package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.TokenizedExample;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/** Optional arguments accept null as the logits' attention mask does: no evaluation set, no padding. */
class NullArgumentsTest {

    @Test
    void trainingWithNullEvalExamplesIsTrainingWithoutEvaluation(@TempDir Path out) throws Exception {
        List<TokenizedExample> ex = DataLoaderTest.examples(6);
        List<Double> withNull = new Trainer(TrainerBatchingTest.model(),
                TrainerBatchingTest.args(out.resolve("a")).maxSteps(3).build(), OrtRuntime.shared())
                .showProgress(false).train(ex, null, TrainerBatchingTest.COLLATOR, null);
        List<Double> withEmpty = new Trainer(TrainerBatchingTest.model(),
                TrainerBatchingTest.args(out.resolve("b")).maxSteps(3).build(), OrtRuntime.shared())
                .showProgress(false).train(ex, List.of(), TrainerBatchingTest.COLLATOR, null);
        assertThat(withNull).hasSize(3).isEqualTo(withEmpty);
        assertThat(withNull).allSatisfy(l -> assertThat(l).isFinite().isPositive());
    }

    @Test
    void trainingBatchesWithNullEvalBatches(@TempDir Path out) throws Exception {
        var batches = DataLoader.forTraining(DataLoaderTest.examples(4), TrainerBatchingTest.COLLATOR,
                TrainerBatchingTest.args(out).build()).epoch(0);
        List<Double> losses = new Trainer(TrainerBatchingTest.model(),
                TrainerBatchingTest.args(out.resolve("c")).maxSteps(1).build(), OrtRuntime.shared())
                .showProgress(false).train(batches, null, null);
        assertThat(losses).hasSize(1);
    }

    @Test
    void generationWithANullMaskMatchesTransformersUnpadded() throws Exception {
        String name = "llama-mha";
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
        JsonObject ref = Fixtures.referenceJson(name);
        GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(ref.get("max_new_tokens").getAsInt())
                .eosTokenId(ref.get("gen0_eos_token_id").getAsLong()).build();
        try (SafeTensors f = SafeTensors.open(Fixtures.reference(name))) {
            long[] prompt = f.get("gen0_prompt").toLongArray();
            long[] want = f.get("gen0_output").toLongArray();
            long[][] got = new Generator(m).generate(new long[][] {prompt}, null, cfg);
            assertThat(got[0]).containsExactly(want);
        }
    }
}
