package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.Batch;
import org.peft4j.data.HfTokenizer;
import org.peft4j.data.InstructionData;
import org.peft4j.data.InstructionRecord;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.SftTokenizer;
import org.peft4j.data.TokenizedExample;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.testutil.Fixtures;

/**
 * End to end: an alpaca-style JSONL file, the transformers-made tokenizer fixture, response-only labels, padding,
 * and full fine-tuning of a small Llama drive the training loss to near-memorisation.
 */
class InstructionTuningTest {

    @Test
    void tinyLlamaMemorisesASmallInstructionSet(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("train.jsonl");
        Files.writeString(data, String.join("\n",
                "{\"instruction\": \"Who are you?\", \"output\": \"I am peft4j.\"}",
                "{\"instruction\": \"Add\", \"input\": \"2 and 3\", \"output\": \"5\"}",
                "{\"instruction\": \"Say hello\", \"output\": \"hello world\"}") + "\n");
        List<InstructionRecord> records = InstructionData.load(data);
        try (HfTokenizer tok = HfTokenizer.load(Fixtures.root().resolve("tokenizer"))) {
            List<TokenizedExample> examples = SftTokenizer.of(tok, 128).tokenizeAll(records);
            Batch batch = PaddingCollator.forTokenizer(tok).collate(examples);
            assertThat(batch.countedTokens()).isGreaterThan(6);
            ModelConfig cfg = ModelConfig.parse("{\"model_type\": \"llama\", \"vocab_size\": " + tok.vocabSize()
                    + ", \"hidden_size\": 48, \"intermediate_size\": 96, \"num_hidden_layers\": 2,"
                    + " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 256}");
            PreTrainedModel m = AutoModelForCausalLM.fromConfig(cfg);
            m.initWeights(0, 0.1);
            TrainingArguments args = TrainingArguments.builder(tmp.resolve("out")).learningRate(1e-2).maxSteps(60)
                    .warmupSteps(3).loggingSteps(20).build();
            List<Double> losses = new Trainer(m, args, OrtRuntime.shared()).showProgress(false)
                    .train(List.of(batch));
            assertThat(losses.get(0)).isGreaterThan(4.0);
            assertThat(losses.get(losses.size() - 1)).isLessThan(0.05);
        }
    }
}
