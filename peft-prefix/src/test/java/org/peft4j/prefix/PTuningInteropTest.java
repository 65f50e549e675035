package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.testutil.Fixtures;

/** P-tuning (MLP and LSTM) against PEFT 0.21.2's fixtures ({@code interop/fixtures/ptune/ptun-*}). */
class PTuningInteropTest {
    static PromptEncoderConfig fixtureConfig(String c) throws Exception {
        PromptEncoderConfig cfg = PromptEncoderConfig.fromJson(PeftConfig.readJson(PtuneFixtures.dir(c)
                .resolve("adapter")));
        cfg.setInferenceMode(false);
        return cfg;
    }

    @ParameterizedTest
    @ValueSource(strings = {"ptun-mlp-llama", "ptun-mlp-gpt2", "ptun-lstm-llama", "ptun-lstm-gpt2"})
    void loadedAdapterLogitsAndCachedGreedyGenerationMatchPeft(String c) throws Exception {
        PeftModel pm = PtuneFixtures.checkLoadedLogits(c);
        assertThat(pm.namedParameters()).as("a loaded P-tuning adapter is the embedding alone")
                .containsKey("prompt_encoder.default.embedding.weight")
                .doesNotContainKey("prompt_encoder.default.mlp_head.0.weight");
        PtuneFixtures.checkGeneration(c, pm);
    }

    /**
     * From PEFT's initial encoder weights: logits, loss and the gradient of every encoder parameter (embedding, MLP,
     * LSTM) equal torch autograd's; the saved {@code prompt_embeddings} (the encoder's output) equal PEFT's, and the
     * adapter saved here loads back to the same logits.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ptun-mlp-llama", "ptun-mlp-gpt2", "ptun-lstm-llama", "ptun-lstm-gpt2"})
    void oneTrainingStepMatchesTorchAutogradAndSavesWhatPeftSaves(String c, @TempDir Path out) throws Exception {
        PeftModel pm = PtuneFixtures.checkTrainingStep(c, fixtureConfig(c), out);
        PeftModel loaded = PeftModel.fromPretrained(PtuneFixtures.base(c), out);
        var ref = PtuneFixtures.reference(c);
        assertThat(Fixtures.maxAbsDiff(loaded.logits(ref.get("input_ids"), ref.get("attention_mask"))
                .toFloatArray(), pm.logits(ref.get("input_ids"), ref.get("attention_mask")).toFloatArray()))
                .isLessThan(1e-5);
        assertThatThrownBy(() -> PeftModel.fromPretrained(PtuneFixtures.base(c), out, "default", true))
                .hasMessageContaining("Cannot set a prompt learning adapter to trainable");
    }

    @Test
    void configJsonDefaultsAndParameterNamesAsPeft() throws Exception {
        Path dir = PtuneFixtures.dir("ptun-lstm-llama").resolve("adapter");
        PromptEncoderConfig cfg = PromptEncoderConfig.fromJson(PeftConfig.readJson(dir));
        assertThat(cfg.encoderReparameterizationType()).isEqualTo(PromptEncoderReparameterizationType.LSTM);
        assertThat(cfg.encoderHiddenSize()).isEqualTo(16);
        assertThat(JsonParser.parseString(cfg.toJson())).isEqualTo(Fixtures.json(dir.resolve("adapter_config.json")));
        PromptEncoderConfig d = new PromptEncoderConfig(4);
        assertThat(d.encoderReparameterizationType()).isEqualTo(PromptEncoderReparameterizationType.MLP);
        assertThat(d.encoderHiddenSize()).isNull();
        assertThat(d.encoderNumLayers()).isEqualTo(2);
        assertThat(d.encoderDropout()).isZero();
        PreTrainedModel m = PtuneFixtures.base("ptun-mlp-llama");
        long all = m.numParameters();
        PeftModel pm = Peft.getPeftModel(m, d);
        assertThat(((PromptEncoderConfig) pm.activePeftConfig()).encoderHiddenSize()).as("token_dim").isEqualTo(96);
        // embedding 4x96, three Linears 96x96 + 96
        long trainable = 4 * 96 + 3 * (96 * 96 + 96);
        assertThat(pm.getNbTrainableParameters()).containsExactly(trainable, all + trainable);
    }
}
