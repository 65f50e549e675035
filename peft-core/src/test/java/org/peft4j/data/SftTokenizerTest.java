package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Label masking, truncation and collation with the byte-level tokenizer and the built-in chat format. */
class SftTokenizerTest {
    private final ByteLevelTokenizer tok = new ByteLevelTokenizer();

    @Test
    void alpacaCountsOnlyOutputAndEos() {
        SftTokenizer sft = SftTokenizer.of(tok, 1000);
        var r = new InstructionRecord.Alpaca("Add", "1 and 2", "3");
        TokenizedExample ex = sft.tokenize(r);
        String prompt = AlpacaTemplate.STANFORD.prompt(r);
        assertThat(prompt).contains("### Input:\n1 and 2\n\n### Response:\n");
        assertThat(ex.countedTokens()).isEqualTo(2);
        assertThat(ex.labels()[ex.length() - 2]).isEqualTo('3');
        assertThat(ex.labels()[ex.length() - 1]).isEqualTo(ByteLevelTokenizer.EOS);
        assertThat(ex.length()).isEqualTo(1 + prompt.length() + 2);
        assertThat(AlpacaTemplate.STANFORD.prompt(new InstructionRecord.Alpaca("Add", "", "3")))
                .doesNotContain("### Input").endsWith("### Instruction:\nAdd\n\n### Response:\n");
    }

    @Test
    void multiTurnChatCountsEveryAssistantTurn() {
        SftTokenizer sft = SftTokenizer.of(tok, 1000);
        List<Message> chat = List.of(Message.system("S"), Message.user("hi"), Message.assistant("yo 😀"),
                Message.user("more"), Message.assistant("ok"));
        TokenizedExample ex = sft.tokenize(new InstructionRecord.Chat(chat));
        assertThat(tok.decode(ex.inputIds())).isEqualTo(
                "<|system|>\nS<|eos|>\n<|user|>\nhi<|eos|>\n<|assistant|>\nyo 😀<|eos|>\n<|user|>\nmore<|eos|>\n"
                        + "<|assistant|>\nok<|eos|>\n");
        // counted: "yo 😀<|eos|>\n" and "ok<|eos|>\n" (the built-in format ends a turn with eos and a newline)
        assertThat(HfTokenizerTestRuns.runs(tok, ex)).containsExactly("yo 😀<|eos|>\n", "ok<|eos|>\n");
    }

    @Test
    void truncatesOnTheRight() {
        SftTokenizer sft = SftTokenizer.of(tok, 10);
        TokenizedExample ex = sft.tokenize(new InstructionRecord.Alpaca("a long instruction", "", "out"));
        assertThat(ex.length()).isEqualTo(10);
        assertThat(ex.inputIds()[0]).isEqualTo(ByteLevelTokenizer.BOS);
        assertThat(ex.countedTokens()).isZero();
        TokenizedExample shortOne = sft.tokenize(new InstructionRecord.Chat(List.of(Message.assistant("x"))));
        assertThat(shortOne.length()).isEqualTo(10);
    }

    @Test
    void collatesWithPaddingOnEitherSide() {
        var a = new TokenizedExample(new long[] {1, 2, 3}, new long[] {-100, 2, 3});
        var b = new TokenizedExample(new long[] {4}, new long[] {4});
        org.peft4j.data.Batch right = PaddingCollator.forTokenizer(tok).collate(List.of(a, b));
        assertThat(right.inputIds().shape()).containsExactly(2, 3);
        assertThat(right.inputIds().toLongArray()).containsExactly(1, 2, 3, 4, 258, 258);
        assertThat(right.attentionMask().toLongArray()).containsExactly(1, 1, 1, 1, 0, 0);
        assertThat(right.labels().toLongArray()).containsExactly(-100, 2, 3, 4, -100, -100);
        org.peft4j.data.Batch left = new PaddingCollator(0, PaddingCollator.Side.LEFT).collate(List.of(a, b));
        assertThat(left.inputIds().toLongArray()).containsExactly(1, 2, 3, 0, 0, 4);
        assertThat(left.attentionMask().toLongArray()).containsExactly(1, 1, 1, 0, 0, 1);
        assertThat(left.labels().toLongArray()).containsExactly(-100, 2, 3, -100, -100, 4);
    }

    @Test
    void padsToAMultipleOf() {
        var five = new TokenizedExample(new long[] {1, 2, 3, 4, 5}, new long[] {-100, 2, 3, 4, 5});
        var two = new TokenizedExample(new long[] {6, 7}, new long[] {6, 7});
        PaddingCollator by4 = new PaddingCollator(0, PaddingCollator.Side.RIGHT, 4);
        org.peft4j.data.Batch b = by4.collate(List.of(five, two));
        // longest 5 rounded up to 8
        assertThat(b.inputIds().shape()).containsExactly(2, 8);
        assertThat(b.inputIds().toLongArray()).containsExactly(1, 2, 3, 4, 5, 0, 0, 0, 6, 7, 0, 0, 0, 0, 0, 0);
        assertThat(b.attentionMask().toLongArray()).containsExactly(1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0);
        assertThat(b.labels().toLongArray()).containsExactly(-100, 2, 3, 4, 5, -100, -100, -100, 6, 7, -100, -100,
                -100, -100, -100, -100);
        // a length that already is a multiple stays; left padding rounds the same way
        var four = new TokenizedExample(new long[] {1, 2, 3, 4}, new long[] {1, 2, 3, 4});
        assertThat(by4.collate(List.of(four, two)).inputIds().shape()).containsExactly(2, 4);
        assertThat(new PaddingCollator(0, PaddingCollator.Side.RIGHT, 2).collate(List.of(two)).inputIds().shape())
                .containsExactly(1, 2);
        org.peft4j.data.Batch left = PaddingCollator.forTokenizer(tok).withPadToMultipleOf(3).collate(List.of(two));
        assertThat(left.inputIds().toLongArray()).containsExactly(6, 7, 258);
        assertThat(new PaddingCollator(0, PaddingCollator.Side.LEFT, 3).collate(List.of(two)).inputIds()
                .toLongArray()).containsExactly(0, 6, 7);
        assertThat(by4.padToMultipleOf()).isEqualTo(4);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new PaddingCollator(0, PaddingCollator.Side.RIGHT, 0))
                .hasMessageContaining("padToMultipleOf");
    }
}
