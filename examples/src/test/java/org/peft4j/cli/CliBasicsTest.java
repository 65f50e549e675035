package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Help, version, exit codes and error messages common to every command. */
class CliBasicsTest {
    private static final String[] COMMANDS = {"finetune", "generate", "merge", "inspect"};

    @Test
    void noArgumentsPrintsTheUsageWithEveryCommand() {
        CliFixtures.Run r = CliFixtures.run();
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("Usage: peft4j").contains(COMMANDS);
    }

    @Test
    void helpAndVersionEverywhere() {
        for (String c : COMMANDS) {
            CliFixtures.Run help = CliFixtures.run(c, "--help");
            assertThat(help.exitCode()).isZero();
            assertThat(help.out()).contains("Usage: peft4j " + c).contains("--model");
            CliFixtures.Run version = CliFixtures.run(c, "--version");
            assertThat(version.exitCode()).isZero();
            assertThat(version.out()).startsWith("peft4j ");
        }
        assertThat(CliFixtures.run("--version").out()).startsWith("peft4j ").contains("Java ");
        assertThat(CliFixtures.run("finetune", "--help").out()).contains("--lora-alpha").contains("--target-modules")
                .contains("--per-device-train-batch-size").contains("--resume-from-checkpoint");
    }

    @Test
    void badUsageExitsWith2() {
        CliFixtures.Run unknown = CliFixtures.run("finetune", "--no-such-option");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("Unknown option: '--no-such-option'");
        assertThat(CliFixtures.run("finetune", "--r", "eight").exitCode()).isEqualTo(2);
        assertThat(CliFixtures.run("merge", "--adapter", "x").exitCode()).as("missing --output-dir").isEqualTo(2);
        assertThat(CliFixtures.run("no-such-command").exitCode()).isEqualTo(2);
    }

    @Test
    void badUsagePrintsTheErrorAndAHintNotTheWholeHelp() {
        CliFixtures.Run unknown = CliFixtures.run("finetune", "--lora-alfa", "4");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).startsWith("peft4j finetune: Unknown options: '--lora-alfa'")
                .contains("--lora-alpha").contains("Run 'peft4j finetune --help' for its options.")
                .doesNotContain("Usage:").doesNotContain("--per-device-train-batch-size");
        assertThat(unknown.err().lines().count()).isLessThanOrEqualTo(4);
        CliFixtures.Run badValue = CliFixtures.run("finetune", "--r", "eight");
        assertThat(badValue.err()).contains("'eight'").doesNotContain("Usage:");
        assertThat(badValue.err().lines().count()).isEqualTo(2);
    }

    @Test
    void helpSaysWhereTheCliDefaultsDifferFromTheLibrarys() {
        String help = CliFixtures.run("finetune", "--help").out().replaceAll("\\s+", " ");
        assertThat(help).contains("PEFT's LoraConfig default is 8").contains("PEFT's LoraConfig default is 0.0")
                .contains("transformers' TrainingArguments default is 5e-5");
        assertThat(CliFixtures.run().out().replaceAll("\\s+", " "))
                .contains("--lora-alpha 16 (8), --lora-dropout 0.05 (0.0), --learning-rate 2e-4 (5e-5)");
    }

    @Test
    void missingFilesExitWith1NamingThePath(@TempDir Path tmp) {
        Path nowhere = tmp.resolve("nowhere");
        CliFixtures.Run model = CliFixtures.run("inspect", "--model", nowhere.toString());
        assertThat(model.exitCode()).isEqualTo(1);
        assertThat(model.err()).isEqualTo("peft4j inspect: error: --model " + nowhere + ": file not found (expected a "
                + "model folder or its config.json)" + System.lineSeparator());

        CliFixtures.Run noConfig = CliFixtures.run("generate", "--model", tmp.toString(), "--prompt", "x");
        assertThat(noConfig.exitCode()).isEqualTo(1);
        assertThat(noConfig.err()).contains(tmp.resolve("config.json") + " not found");

        CliFixtures.Run data = CliFixtures.run("finetune", "--model",
                org.peft4j.testutil.Fixtures.model("llama-mha").toString(), "--data", nowhere.toString());
        assertThat(data.exitCode()).isEqualTo(1);
        assertThat(data.err()).contains("--model").contains("tokenizer.json");
    }

    @Test
    void missingDataFileIsNamed(@TempDir Path tmp) throws Exception {
        Path model = CliFixtures.tinyModel(Files.createDirectories(tmp.resolve("m")));
        Path nowhere = tmp.resolve("train.jsonl");
        CliFixtures.Run r = CliFixtures.run("finetune", "--model", model.toString(), "--data", nowhere.toString(),
                "--output-dir", tmp.resolve("out").toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("--data " + nowhere + ": file not found");
    }

    @Test
    void missingDefaultsSayWhatToPass(@TempDir Path home) {
        String old = System.getProperty(ModelPaths.HOME_PROPERTY);
        System.setProperty(ModelPaths.HOME_PROPERTY, home.toString());
        try {
            CliFixtures.Run r = CliFixtures.run("finetune");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).contains("--model not given and the default examples/default/model does not exist: "
                    + home.resolve("examples/default/model"));
            CliFixtures.Run g = CliFixtures.run("generate", "--model", home.toString());
            assertThat(g.err()).contains("config.json");
        } finally {
            if (old == null) {
                System.clearProperty(ModelPaths.HOME_PROPERTY);
            } else {
                System.setProperty(ModelPaths.HOME_PROPERTY, old);
            }
        }
    }

    @Test
    void errorsAreOneLineUnlessVerbose(@TempDir Path tmp) {
        Path nowhere = tmp.resolve("nowhere");
        CliFixtures.Run quiet = CliFixtures.run("inspect", "--model", nowhere.toString());
        assertThat(quiet.err().lines().count()).isEqualTo(1);
        CliFixtures.Run verbose = CliFixtures.run("inspect", "--model", nowhere.toString(), "--verbose");
        assertThat(verbose.err()).contains("CliException").contains("\tat ");
    }
}
