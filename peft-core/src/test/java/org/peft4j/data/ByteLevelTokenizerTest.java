package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ByteLevelTokenizerTest {
    private final ByteLevelTokenizer tok = new ByteLevelTokenizer();

    @Test
    void roundTripsAnyString() {
        for (String s : new String[] {"", "abc", "你好，世界", "emoji 😀🚀", "<|eos|> inside", "\u0000\n\t", "<|bo"}) {
            assertThat(tok.decode(tok.encode(s, false))).isEqualTo(s);
        }
        assertThat(tok.encode("é", false)).containsExactly(0xc3, 0xa9);
        assertThat(tok.encode("a<|eos|>", false)).containsExactly('a', ByteLevelTokenizer.EOS);
        assertThat(tok.encode("a")).as("special tokens by default").containsExactly(ByteLevelTokenizer.BOS, 'a');
        assertThat(tok.encode("a", true)).containsExactly(ByteLevelTokenizer.BOS, 'a');
        assertThat(tok.vocabSize()).isEqualTo(259);
    }

    @Test
    void offsetsPointAtTheCharsOfEachByte() {
        TokenizedText t = tok.encodeWithOffsets("a😀");
        assertThat(t.ids()).hasSize(5);
        assertThat(t.charStart()).containsExactly(0, 1, 1, 1, 1);
        assertThat(t.charEnd()).containsExactly(1, 3, 3, 3, 3);
    }
}
