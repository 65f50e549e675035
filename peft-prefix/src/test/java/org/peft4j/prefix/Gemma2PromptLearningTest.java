package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.HfTokenizer;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Prompt tuning and P-tuning (MLP and LSTM) on Gemma 2 against PEFT 0.21.2 + transformers 5.23
 * ({@code interop/make_ptune_fixtures.py}, cases {@code *-gemma2}). Gemma 2's input embedding scales by
 * sqrt(hidden_size) in its forward ({@code Gemma2TextScaledWordEmbedding}): PEFT embeds the real tokens and takes the
 * TEXT (and SAMPLE_VOCAB) init through that forward, so the initial prompt is the scaled rows, and the virtual tokens,
 * passed as {@code inputs_embeds}, are not scaled again.
 */
class Gemma2PromptLearningTest {
    @ParameterizedTest
    @ValueSource(strings = {"pt-gemma2", "pt-text-gemma2", "ptun-mlp-gemma2", "ptun-lstm-gemma2"})
    void loadedAdapterLogitsAndCachedGreedyGenerationMatchPeft(String c) throws Exception {
        PeftModel pm = PtuneFixtures.checkLoadedLogits(c);
        PtuneFixtures.checkGeneration(c, pm);
    }

    @ParameterizedTest
    @ValueSource(strings = {"pt-gemma2", "ptun-mlp-gemma2", "ptun-lstm-gemma2"})
    void oneTrainingStepMatchesTorchAutogradAndSavesWhatPeftSaves(String c, @TempDir Path out) throws Exception {
        PromptLearningConfigs.check(c, out);
    }

    @Test
    void textInitTakesTheScaledTokenEmbeddingsAsPeft() throws Exception {
        String c = "pt-text-gemma2";
        // PEFT's saved prompt (no training step changed it) is its TEXT init
        Tensor want = PtuneFixtures.read(PtuneFixtures.dir(c).resolve("adapter/adapter_model.safetensors"))
                .get("prompt_embeddings");
        Path tok = Fixtures.root().resolve("tokenizer");
        PromptTuningConfig cfg = new PromptTuningConfig(6).initText("abc", "fixtures/tokenizer", HfTokenizer.load(tok));
        PeftModel pm = Peft.getPeftModel(PtuneFixtures.base(c), cfg);
        float[] got = pm.namedParameters().get("prompt_encoder.default.embedding.weight").data().toFloatArray();
        assertThat(got).containsExactly(want.toFloatArray());
        // and it is not the raw embedding rows (ids of "abc": 0 70 71 72, repeated)
        float[] raw = PtuneFixtures.base(c).getParameter("model.embed_tokens.weight").data().toFloatArray();
        int d = (int) want.shape()[1];
        assertThat(got[d * 1]).isNotEqualTo(raw[70 * d]);
        assertThat(got[d * 1]).isEqualTo((float) (raw[70 * d] * (float) Math.sqrt(d)));
    }

    /** The training-step check with the case's saved config, prompt tuning or P-tuning. */
    static final class PromptLearningConfigs {
        private PromptLearningConfigs() {
        }

        static void check(String c, Path out) throws Exception {
            var json = PeftConfig.readJson(PtuneFixtures.dir(c).resolve("adapter"));
            org.peft4j.peft.tuners.PromptLearningConfig cfg;
            if (c.startsWith("ptun-")) {
                PromptEncoderConfig p = PromptEncoderConfig.fromJson(json);
                p.setInferenceMode(false);
                cfg = p;
            } else {
                PromptTuningConfig p = PromptTuningConfig.fromJson(json);
                p.setInferenceMode(false);
                cfg = p;
            }
            PtuneFixtures.checkTrainingStep(c, cfg, out);
        }
    }
}
