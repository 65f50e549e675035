package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/** {@code peft4j inspect} on configs only: module listing and PEFT's target selection. */
class InspectCommandTest {
    @TempDir
    static Path shared;
    static Path config;

    @BeforeAll
    static void setUp() throws IOException {
        // 2 decoder layers; only config.json is needed
        Path dir = Files.createDirectories(shared.resolve("model"));
        config = Files.copy(Fixtures.model("llama-mha").resolve("config.json"), dir.resolve("config.json"));
    }

    private static long marked(String out) {
        return out.lines().filter(l -> l.startsWith("* ")).count();
    }

    @Test
    void qAndVProjSelectTwoModulesPerLayer() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", config.getParent().toString(), "--target-modules",
                "q_proj,v_proj");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("4 modules selected").contains("target_modules: {'q_proj', 'v_proj'}")
                .containsPattern("\\* model\\.layers\\.0\\.self_attn\\.q_proj +Linear +weight \\[32, 32]")
                .containsPattern("  model\\.layers\\.1\\.self_attn\\.k_proj +Linear")
                .contains("LoRA r=8 adds 2,048 trainable parameters");
        assertThat(marked(r.out())).isEqualTo(4);
    }

    @Test
    void defaultTargetsAllLinearRegexLayersAndExclusions() {
        CliFixtures.Run def = CliFixtures.run("inspect", "--model", config.toString());
        assertThat(def.out()).contains("4 modules selected")
                .contains("target_modules: {'q_proj', 'v_proj'} [PEFT's default] (4 modules: q_proj, v_proj)");

        CliFixtures.Run all = CliFixtures.run("inspect", "--model", config.toString(), "--target-modules",
                "all-linear");
        assertThat(all.out()).contains("14 modules selected").doesNotContain("* lm_head").contains(
                "target_modules: all-linear (14 modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                + "down_proj)");

        CliFixtures.Run regex = CliFixtures.run("inspect", "--model", config.toString(), "--target-modules",
                "model\\.layers\\.1\\..*_proj", "--regex");
        assertThat(regex.out()).contains("7 modules selected");

        CliFixtures.Run layer = CliFixtures.run("inspect", "--model", config.toString(), "--target-modules",
                "q_proj,v_proj", "--layers-to-transform", "1");
        assertThat(layer.out()).contains("2 modules selected");

        CliFixtures.Run excl = CliFixtures.run("inspect", "--model", config.toString(), "--target-modules",
                "all-linear", "--exclude-modules", "down_proj");
        assertThat(excl.out()).contains("12 modules selected");
        assertThat(excl.out().lines().filter(l -> l.startsWith("x "))).hasSize(2);
    }

    @Test
    void unknownTargetFailsWithPeftsMessageAndTheCandidates() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", config.toString(), "--target-modules", "qproj");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("Target modules {'qproj'} not found in the base model. Please check the target "
                + "modules and try again.").contains("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
                .doesNotContain("\tat ");
        assertThat(r.err().lines().count()).isEqualTo(1);
    }

    @Test
    void targetingANonLayerModuleGivesPeftsError() {
        CliFixtures.Run r = CliFixtures.run("inspect", "--model", config.toString(), "--target-modules",
                ".*self_attn");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("(model.layers.0.self_attn) is not supported");
    }
}
