package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job's plumbing on the embedded default model and data: two optimizer steps, the adapter reloaded from
 * disk, and every held-out prompt answered before and after (the learning itself is shown by the full run, which
 * takes minutes; see the README).
 */
class DemoCommandTest {
    @Test
    void demoFineTunesReloadsAndAnswersEveryHeldOutPrompt(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("demo");
        CliFixtures.Run r = CliFixtures.run("demo", "--output-dir", out.toString(), "--max-steps", "2",
                "--max-new-tokens", "3");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(out.resolve("adapter_model.safetensors")).exists();
        assertThat(out.resolve("adapter_config.json")).content().contains("\"target_modules\"")
                .contains("\"r\": 16");
        assertThat(out.resolve(FinetuneCommand.LOSS_PLOT)).exists();
        // 18 held-out prompts (examples/default/data/heldout.jsonl), each answered twice
        assertThat(r.out().split("\n  before: ", -1)).hasSize(19);
        assertThat(r.out().split("\n  after:  ", -1)).hasSize(19);
        assertThat(r.out()).contains("> Who created you?").contains("> 你是真人吗？")
                .containsPattern("held-out answers containing the expected text: before \\d+/18, after \\d+/18 "
                        + "\\(after: identity \\d+/12, finance \\d+/6\\)");
    }
}
