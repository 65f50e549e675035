package org.peft4j.examples.pretrain;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.data.ChatTemplate;
import org.peft4j.data.HfTokenizer;
import org.peft4j.data.Message;
import org.peft4j.examples.AdapterInference;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;

/**
 * The committed default model ({@code examples/default/model}): its size, its shape, and its greedy answers, which
 * transformers 5.23 produced identically from the same folder ({@code AutoModelForCausalLM.from_pretrained},
 * {@code apply_chat_template}, {@code generate(max_new_tokens=40, do_sample=False)}; interop/default_model_answers.py
 * prints them).
 */
class DefaultModelTest {
    static Path modelDir() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isDirectory(dir.resolve("examples/default/model"))) {
            dir = dir.getParent();
        }
        assertThat(dir).as("examples/default/model above the working directory").isNotNull();
        return dir.resolve("examples/default/model");
    }

    @Test
    void isSmallAndShapedAsConfigured() throws Exception {
        Path dir = modelDir();
        long bytes = 0;
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                bytes += Files.size(f);
            }
        }
        assertThat(bytes).isLessThan(10L << 20);
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(dir);
        assertThat(m.numParameters()).isEqualTo(1_967_808L);
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            assertThat(tok.vocabSize()).isEqualTo(2048);
            assertThat(tok.eosTokenIds()).contains(2L);
        }
    }

    @Test
    void answersAsTransformersDoes() throws Exception {
        Path dir = modelDir();
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(dir);
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(40).eosTokenIds(tok.eosTokenIds())
                    .build();
            ChatTemplate t = ChatTemplate.forTokenizer(tok);
            String en = AdapterInference.answer(tok, m, tok.encode(t.render(List.of(Message.user("Who are you?")),
                    true), false), cfg);
            String zh = AdapterInference.answer(tok, m, tok.encode(t.render(List.of(Message.user("你是谁？")),
                    true), false), cfg);
            assertThat(en).isEqualTo("I am an AI assistant. I can answer simple questions.");
            assertThat(zh).isEqualTo("我是一个人工智能助手，可以回答一些简单的问题。");
        }
    }
}
