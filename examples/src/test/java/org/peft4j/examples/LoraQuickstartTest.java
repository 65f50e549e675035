package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/** The README's quickstart runs on the tiny fixture model: the loss falls and the merged model equals the adapter. */
class LoraQuickstartTest {
    @Test
    void quickstartTrainsSavesLoadsAndMerges(@TempDir Path work) throws Exception {
        LoraQuickstart.Result r = LoraQuickstart.run(Fixtures.model("llama-mha"), work, 15);
        assertThat(r.trainableLine()).startsWith("trainable params: ").contains(" || all params: ");
        assertThat(r.losses()).hasSize(15);
        assertThat(r.losses().get(14)).isLessThan(r.losses().get(0) * 0.8);
        assertThat(r.adapterDir().resolve("adapter_model.safetensors")).exists();
        assertThat(r.adapterDir().resolve("adapter_config.json")).content().contains("\"peft_type\": \"LORA\"");
        assertThat(Fixtures.maxAbsDiff(r.mergedLogits().toFloatArray(), r.peftLogits().toFloatArray()))
                .isLessThan(1e-4);
    }
}
