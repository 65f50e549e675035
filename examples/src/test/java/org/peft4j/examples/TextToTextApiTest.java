package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.AutoTokenizer;
import org.peft4j.data.Message;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.SftDataset;
import org.peft4j.data.Tokenizer;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.AutoPeftModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * The README's text-to-text quickstart: JSONL -> LoRA training on the embedded default model -> savePretrained ->
 * AutoPeftModelForCausalLM.fromPretrained -> generate(text) -> String. The answer is checked against the same
 * greedy generation done by hand with the lower-level API (base + PeftModel.fromPretrained, ids, decode).
 */
class TextToTextApiTest {
    @Test
    void textInTextOut(@TempDir Path tmp) throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(root.resolve("examples/default/model"))) {
            root = root.getParent();
        }
        Path modelDir = root.resolve("examples/default/model");
        Path trainJsonl = root.resolve("examples/default/data/train.jsonl");
        Path adapterDir = tmp.resolve("adapter");

        // --- quickstart (README) ---
        Tokenizer tokenizer = AutoTokenizer.load(modelDir);
        SftDataset data = SftDataset.load(trainJsonl, tokenizer, 128);
        PreTrainedModel model = AutoModelForCausalLM.fromPretrained(modelDir);
        PeftModel peftModel = Peft.getPeftModel(model, LoraConfig.builder().r(8).loraAlpha(16)
                .targetModules("q_proj", "v_proj").build());
        TrainingArguments args = TrainingArguments.builder(tmp.resolve("run"))
                .learningRate(1e-3).maxSteps(3).perDeviceTrainBatchSize(4).build();
        new Trainer(peftModel, args, OrtRuntime.shared())
                .train(data.examples(), null, PaddingCollator.forTokenizer(tokenizer), null);
        peftModel.savePretrained(adapterDir);

        String answer;
        try (AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapterDir)) {
            answer = m.generate(List.of(Message.user("What is a stock?")));
        }
        // --- end of quickstart ---

        assertThat(data.examples()).hasSize(300);
        assertThat(answer).isNotBlank();
        // independent path: the lower-level API, greedy with the model folder's generation_config eos ids
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(modelDir);
        try (PeftModel loaded = PeftModel.fromPretrained(base, adapterDir)) {
            long[] prompt = tokenizer.applyChatTemplate(List.of(Message.user("What is a stock?")), true);
            long[] out = loaded.generate(new long[][] {prompt}, null,
                    org.peft4j.generation.GenerationConfig.builder().maxNewTokens(20).eosTokenIds(List.of(1L, 2L))
                            .padTokenId(3L).build())[0];
            int end = prompt.length;
            while (end < out.length && out[end] != 1 && out[end] != 2) {
                end++;
            }
            String expected = tokenizer.decode(java.util.Arrays.copyOfRange(out, prompt.length, end), true);
            assertThat(answer).isEqualTo(expected);
            assertThat(answer).doesNotContain("<|eot_id|>").doesNotContain("<|start_header_id|>");
        }
        AutoTokenizer.close(tokenizer);
    }
}
