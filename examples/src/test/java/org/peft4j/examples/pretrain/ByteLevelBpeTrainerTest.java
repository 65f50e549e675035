package org.peft4j.examples.pretrain;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.HfTokenizer;

/** The BPE trainer's merges by hand, and its tokenizer.json read back by Hugging Face tokenizers (DJL). */
class ByteLevelBpeTrainerTest {
    static final List<String> SPECIALS = List.of("<|bos|>", "<|eot|>");

    @Test
    void mergesTheMostFrequentPairsFirst() {
        // words: "low" x2, " low" x2, " lower", " newest": pairs "l o" 5, "o w" 5, "Ġ l" 3, "w e" 2, ...
        ByteLevelBpeTrainer.Result r = new ByteLevelBpeTrainer(SPECIALS, 2 + 256 + 3)
                .train(List.of("low low low", "low lower newest"));
        assertThat(r.vocab()).hasSize(261);
        assertThat(r.vocab().get("<|bos|>")).isZero();
        assertThat(r.vocab().get("!")).isEqualTo(2 + '!');
        assertThat(r.vocab().get("Ġ")).isEqualTo(2 + ' '); // GPT-2's symbol for the space byte
        // "l o" and "o w" both occur 5 times; ties go to the smaller pair of symbols ("l" < "o")
        assertThat(r.merges().get(0)).containsExactly("l", "o");
        assertThat(r.merges().get(1)).containsExactly("lo", "w");
        assertThat(r.merges().get(2)).containsExactly("Ġ", "low");
        assertThat(r.vocab()).containsEntry("low", 259).containsEntry("Ġlow", 260);
    }

    @Test
    void writtenTokenizerLoadsInHuggingFaceTokenizersAndRoundTrips(@TempDir Path dir) throws Exception {
        List<String> texts = List.of("The bond pays interest every year.", "An index fund tracks an index.",
                "我是一个人工智能助手。", "复利是利息再产生利息。", "The interest rate is the price of money.");
        ByteLevelBpeTrainer bpe = new ByteLevelBpeTrainer(SPECIALS, 2 + 256 + 60);
        ByteLevelBpeTrainer.Result r = bpe.train(texts);
        bpe.writeTokenizerJson(r, "<|bos|>", dir.resolve("tokenizer.json"));
        try (HfTokenizer tok = HfTokenizer.load(dir)) {
            // a pair seen once is never merged, so this small corpus stops short of the asked size
            assertThat(r.merges()).isNotEmpty().hasSizeLessThan(60);
            assertThat(tok.vocabSize()).isEqualTo(2 + 256 + r.merges().size());
            for (String s : List.of("The interest rate of an index fund.", "我是复利助手。", "unseen wörds 123")) {
                long[] ids = tok.encode(s, false);
                assertThat(tok.decode(ids)).isEqualTo(s);
                int bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (s.startsWith("unseen")) {
                    assertThat(ids).hasSize(bytes); // nothing learned applies: one token per byte
                } else {
                    assertThat(ids.length).isLessThan(bytes); // learned merges apply
                }
            }
            assertThat(tok.encode("x", true)[0]).isZero(); // the post-processor prepends <|bos|>
            assertThat(tok.encode("<|eot|>", false)).containsExactly(1L);
        }
    }
}
