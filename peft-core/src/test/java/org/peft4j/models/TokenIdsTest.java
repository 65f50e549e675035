package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.Peft4jException;
import org.peft4j.data.Batch;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * A token id past the embedding (a tokenizer larger than the model's vocabulary) is refused with a peft4j error naming
 * the id and vocab_size before ONNX Runtime's Gather fails; the last valid id still runs.
 */
class TokenIdsTest {
    private static PreTrainedModel model() throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
    }

    @Test
    void logitsRefuseAnIdPastTheEmbedding() throws Exception {
        PreTrainedModel m = model();
        long vocab = m.vocabSize();
        Tensor lastValid = Tensor.of(new long[] {1, vocab - 1}, 1, 2);
        assertThat(m.logits(lastValid, null).shape()).containsExactly(1L, 2L, vocab);
        assertThatThrownBy(() -> m.logits(Tensor.of(new long[] {1, vocab}, 1, 2), null))
                .isInstanceOf(Peft4jException.class)
                .hasMessageContaining("token id " + vocab + " is outside the model's embedding (vocab_size " + vocab);
        assertThatThrownBy(() -> m.logits(Tensor.of(new long[] {-1, 2}, 1, 2), null))
                .isInstanceOf(Peft4jException.class).hasMessageContaining("token id -1 ");
    }

    @Test
    void generationRefusesAnIdPastTheEmbedding() throws Exception {
        PreTrainedModel m = model();
        long vocab = m.vocabSize();
        assertThatThrownBy(() -> new Generator(m).generate(new long[] {3, vocab + 5}, GenerationConfig.greedy(2)))
                .isInstanceOf(Peft4jException.class).hasMessageContaining("token id " + (vocab + 5));
    }

    @Test
    void trainingRefusesAnIdPastTheEmbedding(@TempDir Path out) throws Exception {
        PreTrainedModel m = model();
        long vocab = m.vocabSize();
        Tensor ids = Tensor.of(new long[] {1, 2, vocab}, 1, 3);
        Tensor mask = Tensor.of(new long[] {1, 1, 1}, 1, 3);
        Batch batch = new Batch(ids, mask, ids);
        Trainer trainer = new Trainer(m, TrainingArguments.builder(out).maxSteps(1).build(), OrtRuntime.shared())
                .showProgress(false);
        assertThatThrownBy(() -> trainer.train(List.of(batch)))
                .isInstanceOf(Peft4jException.class).hasMessageContaining("vocab_size " + vocab);
    }
}
