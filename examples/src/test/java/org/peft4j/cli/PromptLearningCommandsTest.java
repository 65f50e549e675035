package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code peft4j finetune --peft-type ...} and {@code generate} with prompt-learning adapters on the tiny Llama. */
class PromptLearningCommandsTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path data;

    @BeforeAll
    static void setUp() throws IOException {
        model = CliFixtures.tinyModel(Files.createDirectories(shared.resolve("model")));
        data = CliFixtures.chatData(shared.resolve("train.jsonl"));
    }

    private static CliFixtures.Run finetune(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--learning-rate", "3e-2",
                "--logging-steps", "1", "--max-steps", "4", "--num-virtual-tokens", "4"));
        a.addAll(List.of(extra));
        return CliFixtures.run(a.toArray(new String[0]));
    }

    @ParameterizedTest
    @CsvSource({
        "PREFIX_TUNING, --prefix-projection, true, 'PREFIX_TUNING: num_virtual_tokens=4, prefix_projection=True'",
        "PROMPT_TUNING, --prompt-tuning-init, SAMPLE_VOCAB, 'PROMPT_TUNING: num_virtual_tokens=4, "
            + "prompt_tuning_init=SAMPLE_VOCAB'",
        "P_TUNING, --encoder-reparameterization-type, LSTM, 'P_TUNING: num_virtual_tokens=4, "
            + "encoder_reparameterization_type=LSTM'"})
    void trainsSavesAndGeneratesWithEachMethod(String type, String option, String value, String line,
            @TempDir Path out) throws Exception {
        CliFixtures.Run r = finetune(out, "--peft-type", type, option, value);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("method:  " + line).contains("trainable params: ");
        JsonObject cfg = JsonParser.parseString(Files.readString(out.resolve("adapter_config.json")))
                .getAsJsonObject();
        assertThat(cfg.get("peft_type").getAsString()).isEqualTo(type);
        assertThat(cfg.get("num_virtual_tokens").getAsInt()).isEqualTo(4);
        List<Double> losses = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("trainer_log.jsonl"))) {
            JsonObject o = l.isBlank() ? new JsonObject() : JsonParser.parseString(l).getAsJsonObject();
            if (o.has("loss")) {
                losses.add(o.get("loss").getAsDouble());
            }
        }
        assertThat(losses).hasSize(4).allMatch(Double::isFinite);

        CliFixtures.Run g = CliFixtures.run("generate", "--model", model.toString(), "--adapter", out.toString(),
                "--prompt", "Who are you?", "--max-new-tokens", "4");
        assertThat(g.exitCode()).as(g.toString()).isZero();
        assertThat(g.out()).contains("before fine-tuning").contains("after fine-tuning");
    }

    @Test
    void badMethodOptionsAreNamed(@TempDir Path out) {
        CliFixtures.Run r = finetune(out, "--peft-type", "IA4");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("--peft-type 'IA4': expected LORA, PREFIX_TUNING, PROMPT_TUNING or P_TUNING");
        r = finetune(out, "--peft-type", "PROMPT_TUNING", "--prompt-tuning-init", "TEXT");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("--prompt-tuning-init TEXT needs --prompt-tuning-init-text");
    }
}
