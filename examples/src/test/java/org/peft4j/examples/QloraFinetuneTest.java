package org.peft4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.cli.ModelPaths;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.testutil.Fixtures;

/**
 * The QLoRA script on the embedded default model and data: the 4-bit base with gradient checkpointing and a paged
 * 8-bit optimizer learns (the loss falls), and the adapter reloaded on a fresh 4-bit base changes the answer.
 */
class QloraFinetuneTest {
    @Test
    void qloraScriptTrainsAndTheReloadedAdapterChangesTheAnswer(@TempDir Path work) throws Exception {
        Path root = Fixtures.root().getParent().getParent();
        Path model = root.resolve(ModelPaths.DEFAULT_MODEL);
        Path train = root.resolve(ModelPaths.DEFAULT_TRAIN_DATA);
        QloraFinetune.Result r = QloraFinetune.run(model, train, work, 40, List.of("Who built you?"), 24);
        // PEFT counts a packed 4-bit weight as twice its bytes, so the 4-bit model prints the float model's line
        String floatLine = Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(model), QloraFinetune.loraConfig())
                .printTrainableParameters();
        assertThat(r.trainableLine()).isEqualTo(floatLine).startsWith("trainable params: 217,088 || ");
        assertThat(r.losses()).hasSize(40).allMatch(Double::isFinite);
        assertThat(r.losses().get(39)).isLessThan(r.losses().get(0) * 0.7);
        assertThat(r.adapterDir().resolve("adapter_config.json")).content().contains("\"peft_type\": \"LORA\"");
        AdapterInference.Answers a = r.answers().get(0);
        assertThat(a.base()).isNotEmpty();
        assertThat(a.adapter()).isNotEqualTo(a.base());
    }
}
