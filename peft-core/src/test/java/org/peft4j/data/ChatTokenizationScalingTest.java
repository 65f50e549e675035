package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.Fixtures;

/**
 * Chat tokenisation does linear work in the length of the conversation (issue 16: one 800-turn record took 65 s,
 * every assistant turn re-tokenising the whole prefix before it, then 9 s rendering every prefix), and its labels
 * are those of tokenising every prefix whole (TRL's definition).
 */
class ChatTokenizationScalingTest {
    private static HfTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = HfTokenizer.load(Fixtures.root().resolve("tokenizer"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static List<Message> chat(int turns) {
        List<Message> msgs = new ArrayList<>();
        msgs.add(Message.system("You are terse."));
        for (int i = 0; i < turns; i++) {
            msgs.add(Message.user("question " + i + ": what is " + i + " plus " + (i * 7 % 13) + "? 😀"));
            // varied endings: spaces and punctuation next to the end-of-turn token, where merges could cross
            msgs.add(Message.assistant("It is " + (i + i * 7 % 13) + (i % 3 == 0 ? " " : i % 3 == 1 ? "." : "\n")));
        }
        return msgs;
    }

    @Test
    void workGrowsLinearlyWithTurns() {
        long[] small = work(50);
        long[] large = work(400);
        // renders: the whole chat, the located rendering, and before and through three turns checked exactly
        // (LocatedChatRenderingTest), whatever the length: before, 1 + 2 * turns renderings of prefixes
        assertThat(small[0]).isEqualTo(1 + 1 + 2 * 3);
        assertThat(large[0]).isEqualTo(1 + 1 + 2 * 3);
        // chars handed to the tokenizer: about the conversation's length (whole text once, each turn's tail, the
        // one-off check of the first turn), not the sum of its prefixes (~turns/2 times the length)
        long chars400 = tokenizer.chatTemplate().render(chat(400), false).length();
        assertThat(large[2]).isLessThan(3 * chars400);
        assertThat((double) large[2] / small[2]).isLessThan(8 * 1.25);
        assertThat((double) large[1] / small[1]).isLessThan(8 * 1.25);
    }

    private static long[] work(int turns) {
        SftTokenizer sft = SftTokenizer.of(tokenizer, 1 << 30);
        sft.tokenize(new InstructionRecord.Chat(chat(turns)));
        return sft.work();
    }

    @Test
    void labelsEqualTokenisingEveryPrefixWhole() {
        List<Message> msgs = chat(40);
        ChatTemplate template = tokenizer.chatTemplate();
        String full = template.render(msgs, false);
        long[] ids = tokenizer.encode(full, false);
        long[] expected = new long[ids.length];
        java.util.Arrays.fill(expected, SftTokenizer.IGNORE_INDEX);
        for (int i = 0; i < msgs.size(); i++) {
            if (msgs.get(i).isAssistant()) {
                int from = tokenizer.encode(template.render(msgs.subList(0, i), true), false).length;
                int to = tokenizer.encode(template.render(msgs.subList(0, i + 1), false), false).length;
                for (int k = from; k < to; k++) {
                    expected[k] = ids[k];
                }
            }
        }
        SftTokenizer sft = SftTokenizer.of(tokenizer, 1 << 30);
        // two records: the first also runs the one-off check against whole prefixes, the second only the shortcut
        sft.tokenize(new InstructionRecord.Chat(chat(3)));
        TokenizedExample ex = sft.tokenize(new InstructionRecord.Chat(msgs));
        assertThat(ex.inputIds()).containsExactly(ids);
        assertThat(ex.labels()).containsExactly(expected);
        assertThat(java.util.Arrays.stream(expected).filter(l -> l != SftTokenizer.IGNORE_INDEX).count())
                .isGreaterThan(40 * 3);
    }

    @Test
    void tokenizerFilesDecideWhetherPiecesAreIndependent() {
        com.google.gson.JsonObject json = com.google.gson.JsonParser.parseString("{\"added_tokens\": [{\"id\": 5, "
                + "\"content\": \"<s>\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false}]}")
                .getAsJsonObject();
        assertThat(TokenizerFiles.segmentBoundaryIds(json)).containsExactly(5L);
        json.getAsJsonArray("added_tokens").get(0).getAsJsonObject().addProperty("rstrip", true);
        assertThat(TokenizerFiles.segmentBoundaryIds(json)).isNull();
        json.getAsJsonArray("added_tokens").get(0).getAsJsonObject().addProperty("rstrip", false);
        json.add("pre_tokenizer", com.google.gson.JsonParser.parseString(
                "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Metaspace\", \"prepend_scheme\": \"first\"}]}"));
        assertThat(TokenizerFiles.segmentBoundaryIds(json)).isNull();
    }
}
