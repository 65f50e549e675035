package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.testutil.Fixtures;

/**
 * The prompt-learning quickstart runs each method on the tiny fixture model: the loss falls, the saved adapter is
 * PEFT's format, the adapter loaded onto a fresh base gives the trained model's logits, and its cached greedy
 * generation starts with the full forward's argmax.
 */
class PromptLearningQuickstartTest {
    @ParameterizedTest
    @ValueSource(strings = {"prefix", "prompt", "p-tuning"})
    void trainsSavesLoadsAndGenerates(String method, @TempDir Path work) throws Exception {
        PromptLearningQuickstart.Result r = PromptLearningQuickstart.run(method, Fixtures.model("llama-mha"), work,
                8);
        assertThat(r.trainableLine()).startsWith("trainable params: ").contains(" || all params: ");
        assertThat(r.losses()).hasSize(8);
                assertThat(r.losses().get(7)).as("%s: losses %s", method, r.losses()).isLessThan(r.losses().get(0) * 0.8);
        String peftType = switch (method) {
            case "prefix" -> "PREFIX_TUNING";
            case "prompt" -> "PROMPT_TUNING";
            default -> "P_TUNING";
        };
        assertThat(r.adapterDir().resolve("adapter_config.json")).content()
                .contains("\"peft_type\": \"" + peftType + "\"");
        assertThat(r.adapterDir().resolve("adapter_model.safetensors")).exists();
        assertThat(r.loadedLogits().shape()).containsExactly(r.trainedLogits().shape());
        assertThat(Fixtures.maxAbsDiff(r.loadedLogits().toFloatArray(), r.trainedLogits().toFloatArray()))
                .as("%s: reloaded adapter's logits", method).isLessThan(1e-4);
        assertThat(r.generated()).hasSize(LoraQuickstart.SEQUENCE.length).startsWith(7, 21, 3);
        // the first generated token (cached generation from the 3-token prompt) is the argmax of the full forward's
        // logits at position 2, whose causal context is the same prompt
        long vocab = r.loadedLogits().shape()[2];
        float[] row = java.util.Arrays.copyOfRange(r.loadedLogits().toFloatArray(), (int) (2 * vocab),
                (int) (3 * vocab));
        int argmax = 0;
        for (int v = 1; v < vocab; v++) {
            if (row[v] > row[argmax]) {
                argmax = v;
            }
        }
        assertThat(r.generated()[3]).as("%s: first generated token", method).isEqualTo(argmax);
    }
}
