package org.peft4j.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.data.HfTokenizer;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Prompt tuning against PEFT 0.21.2's fixtures ({@code interop/fixtures/ptune/pt-*}). */
class PromptTuningInteropTest {
    static PromptTuningConfig fixtureConfig(String c) throws Exception {
        PromptTuningConfig cfg = PromptTuningConfig.fromJson(PeftConfig.readJson(PtuneFixtures.dir(c)
                .resolve("adapter")));
        cfg.setInferenceMode(false);
        return cfg;
    }

    @ParameterizedTest
    @ValueSource(strings = {"pt-llama", "pt-gpt2", "pt-text-gpt2"})
    void loadedAdapterLogitsAndCachedGreedyGenerationMatchPeft(String c) throws Exception {
        PeftModel pm = PtuneFixtures.checkLoadedLogits(c);
        PtuneFixtures.checkGeneration(c, pm);
    }

    @ParameterizedTest
    @ValueSource(strings = {"pt-llama", "pt-gpt2"})
    void oneTrainingStepMatchesTorchAutogradAndSavesWhatPeftSaves(String c, @TempDir Path out) throws Exception {
        PtuneFixtures.checkTrainingStep(c, fixtureConfig(c), out);
    }

    @Test
    void textInitTakesTheInitTextsTokenEmbeddingsRepeatedAsPeft() throws Exception {
        String c = "pt-text-gpt2";
        // PEFT's saved prompt (no training step changed it) is its TEXT init
        Tensor want = PtuneFixtures.read(PtuneFixtures.dir(c).resolve("adapter/adapter_model.safetensors"))
                .get("prompt_embeddings");
        Path tok = Fixtures.root().getParent().resolve("fixtures/tokenizer");
        // through a Tokenizer given to the config
        PromptTuningConfig cfg = new PromptTuningConfig(6).initText("abc", "fixtures/tokenizer", HfTokenizer.load(tok));
        PeftModel pm = Peft.getPeftModel(PtuneFixtures.base(c), cfg);
        float[] got = pm.namedParameters().get("prompt_encoder.default.embedding.weight").data().toFloatArray();
        assertThat(got).containsExactly(want.toFloatArray());
        // through the config's tokenizer_name_or_path folder
        PeftModel pm2 = Peft.getPeftModel(PtuneFixtures.base(c), new PromptTuningConfig(6).initText("abc",
                tok.toString()));
        assertThat(pm2.namedParameters().get("prompt_encoder.default.embedding.weight").data().toFloatArray())
                .containsExactly(want.toFloatArray());
    }

    @Test
    void sampleVocabTakesRowsOfTheEmbeddingMatrixAndRandomIsStandardNormal() throws Exception {
        PreTrainedModel m = PtuneFixtures.base("pt-llama");
        float[] table = m.getParameter("model.embed_tokens.weight").data().toFloatArray();
        int d = (int) m.hiddenSize();
        PeftModel pm = Peft.getPeftModel(m, new PromptTuningConfig(20).promptTuningInit(
                PromptTuningInit.SAMPLE_VOCAB));
        float[] w = pm.namedParameters().get("prompt_encoder.default.embedding.weight").data().toFloatArray();
        for (int r = 0; r < 20; r++) {
            boolean found = false;
            for (int v = 0; v < table.length / d && !found; v++) {
                found = java.util.Arrays.equals(w, r * d, (r + 1) * d, table, v * d, (v + 1) * d);
            }
            assertThat(found).as("row %d is a row of the embedding matrix", r).isTrue();
        }
        PeftModel rnd = Peft.getPeftModel(PtuneFixtures.base("pt-llama"), new PromptTuningConfig(50));
        float[] x = rnd.namedParameters().get("prompt_encoder.default.embedding.weight").data().toFloatArray();
        double s = 0;
        double s2 = 0;
        for (float v : x) {
            s += v;
            s2 += v * v;
        }
        assertThat(s / x.length).isBetween(-0.05, 0.05);       // 4800 draws: sd of the mean 0.014
        assertThat(s2 / x.length).isBetween(0.93, 1.07);         // sd of the variance 0.02
    }

    @Test
    void printsTrainableParametersAsPeft() throws Exception {
        PreTrainedModel m = PtuneFixtures.base("pt-llama");
        long all = m.numParameters();
        PeftModel pm = Peft.getPeftModel(m, new PromptTuningConfig(4));
        assertThat(pm.getNbTrainableParameters()).containsExactly(4 * 96, all + 4 * 96);
        assertThat(pm.printTrainableParameters()).startsWith("trainable params: 384 || all params: ");
    }

    @Test
    void configJsonAndValidationAsPeft() throws Exception {
        String c = "pt-text-gpt2";
        Path dir = PtuneFixtures.dir(c).resolve("adapter");
        PromptTuningConfig cfg = PromptTuningConfig.fromJson(PeftConfig.readJson(dir));
        assertThat(cfg.promptTuningInit()).isEqualTo(PromptTuningInit.TEXT);
        assertThat(cfg.promptTuningInitText()).isEqualTo("abc");
        assertThat(cfg.numVirtualTokens()).isEqualTo(6);
        assertThat(cfg.tokenDim()).isEqualTo(32);
        // written back, the JSON is PEFT's (same keys and values)
        assertThat(JsonParser.parseString(cfg.toJson())).isEqualTo(Fixtures.json(dir.resolve("adapter_config.json")));
        assertThat(new PromptTuningConfig(4).promptTuningInit()).isEqualTo(PromptTuningInit.RANDOM);
        assertThatThrownBy(() -> new PromptTuningConfig(4).promptTuningInit(PromptTuningInit.TEXT))
                .hasMessage("When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be None.");
        assertThatThrownBy(() -> new PromptTuningConfig(4).initText(null, "tok"))
                .hasMessage("When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be None.");
        java.util.Map<String, Object> kw = java.util.Map.of("use_fast", true);
        assertThatThrownBy(() -> new PromptTuningConfig(4).tokenizerKwargs(kw))
                .hasMessage("tokenizer_kwargs only valid when using prompt_tuning_init='TEXT'.");
    }

}
