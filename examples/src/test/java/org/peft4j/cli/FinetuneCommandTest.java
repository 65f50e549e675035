package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/** {@code peft4j finetune} on a tiny Llama with the fixture tokenizer and chat data. */
class FinetuneCommandTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path data;

    @BeforeAll
    static void setUp() throws IOException {
        model = CliFixtures.tinyModel(Files.createDirectories(shared.resolve("model")));
        data = CliFixtures.chatData(shared.resolve("train.jsonl"));
    }

    private static String[] args(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--learning-rate", "1e-2",
                "--logging-steps", "1", "--lora-dropout", "0"));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void trainsSavesAdapterLogAndLossPlot(@TempDir Path out) throws Exception {
        CliFixtures.Run r = CliFixtures.run(args(out, "--max-steps", "3", "--eval-data", data.toString(),
                "--eval-steps", "3", "--target-modules", "q_proj,v_proj"));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("trainable params: ").contains("target_modules={'q_proj', 'v_proj'}")
                .contains("adapter:   " + out.resolve("adapter_model.safetensors"))
                .contains("loss plot: " + out.resolve("loss.png"));
        assertThat(out.resolve("adapter_config.json")).content().contains("\"r\": 8").contains("\"lora_alpha\": 16");
        assertThat(out.resolve("adapter_model.safetensors")).isRegularFile();

        List<JsonObject> log = log(out);
        List<Double> losses = new ArrayList<>();
        List<Double> evals = new ArrayList<>();
        for (JsonObject o : log) {
            if (o.has("loss")) {
                losses.add(o.get("loss").getAsDouble());
            }
            if (o.has("eval_loss")) {
                evals.add(o.get("eval_loss").getAsDouble());
            }
        }
        assertThat(losses).hasSize(3).allMatch(Double::isFinite).allMatch(l -> l > 0);
        assertThat(evals).hasSize(1).allMatch(Double::isFinite);

        BufferedImage png = ImageIO.read(out.resolve("loss.png").toFile());
        assertThat(png.getWidth()).isEqualTo(LossPlot.WIDTH);
        assertThat(png.getHeight()).isEqualTo(LossPlot.HEIGHT);

        PeftModel loaded = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(model), out);
        Tensor b = loaded.getBaseModel().getParameter("model.layers.0.self_attn.q_proj.lora_B.default.weight").data();
        float max = 0;
        for (float v : b.toFloatArray()) {
            max = Math.max(max, Math.abs(v));
        }
        assertThat(max).as("lora_B moved away from its zero initialisation").isGreaterThan(0f);
    }

    @Test
    void resumeFromLatestCheckpointContinuesTheStepCount(@TempDir Path out) throws Exception {
        CliFixtures.Run first = CliFixtures.run(args(out, "--max-steps", "2", "--save-steps", "2"));
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(out.resolve("checkpoint-2")).isDirectory();

        CliFixtures.Run second = CliFixtures.run(args(out, "--max-steps", "4", "--save-steps", "2",
                "--resume-from-checkpoint", "latest"));
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(second.out()).contains("resuming from " + out.resolve("checkpoint-2")).contains("trained 2 steps");
        assertThat(out.resolve("checkpoint-4")).isDirectory();
        List<Long> steps = new ArrayList<>();
        for (JsonObject o : log(out)) {
            steps.add(o.get("step").getAsLong());
        }
        assertThat(steps).containsExactly(1L, 2L, 3L, 4L);
        assertThat(LossPlot.read(out.resolve("trainer_log.jsonl")).train()).containsOnlyKeys(1L, 2L, 3L, 4L);
    }

    @Test
    void aResumedRunWithoutEvaluationReportsNoStaleEvalLoss(@TempDir Path out) throws Exception {
        CliFixtures.Run first = CliFixtures.run(args(out, "--max-steps", "2", "--save-steps", "2", "--eval-data",
                data.toString(), "--eval-steps", "2"));
        assertThat(first.exitCode()).as(first.toString()).isZero();
        assertThat(first.out()).contains("eval loss at step 2: ");

        CliFixtures.Run second = CliFixtures.run(args(out, "--max-steps", "3", "--save-steps", "2",
                "--resume-from-checkpoint", "latest"));
        assertThat(second.exitCode()).as(second.toString()).isZero();
        assertThat(second.out()).contains("trained 1 steps").doesNotContain("eval loss");
    }

    @Test
    void resumeWithoutCheckpointNamesTheOutputDir(@TempDir Path out) {
        CliFixtures.Run r = CliFixtures.run(args(out, "--max-steps", "1", "--resume-from-checkpoint", "true"));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("no valid checkpoint found in output directory (" + out + ")")
                .doesNotContain("\tat ");
    }

    @Test
    void badDataRecordNamesFileAndLine(@TempDir Path out) throws IOException {
        Path bad = out.resolve("bad.jsonl");
        Files.writeString(bad, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{\"foo\": 1}\n");
        CliFixtures.Run r = CliFixtures.run("finetune", "--model", model.toString(), "--data", bad.toString(),
                "--output-dir", out.resolve("o").toString(), "--max-steps", "1");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains(bad + ":2").contains("missing field 'instruction'");
    }

    private static List<JsonObject> log(Path out) throws IOException {
        List<JsonObject> lines = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("trainer_log.jsonl"))) {
            if (!l.isBlank()) {
                lines.add(JsonParser.parseString(l).getAsJsonObject());
            }
        }
        return lines;
    }
}
