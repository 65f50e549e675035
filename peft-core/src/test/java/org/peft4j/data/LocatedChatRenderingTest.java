package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Issue 16: the assistant turns of a chat are found in a constant number of renderings (one located rendering plus
 * the exact renderings of three turns) instead of {@code 1 + 2 * turns}, with the same turns, or the same error, as
 * rendering every prefix (the definition in {@link SftTokenizer}). The templates (test resources
 * {@code chat-templates/}) have the shapes of well-known models' templates, plus two made to defeat the shortcut,
 * where it must fall back.
 */
class LocatedChatRenderingTest {
    /** Templates where one located rendering must do, for any chat they accept. */
    static final List<String> LOCATABLE = List.of("chatml", "qwen25", "llama3", "llama31-system", "gemma", "zephyr",
            "mistral", "qwen3-thinking");
    /**
     * Templates where the shortcut must give up and render every prefix: two loops over the messages, a header
     * numbered per turn, text after the loop (Phi-3's eos; only one-turn chats pass the prefix definition there).
     */
    static final List<String> NOT_LOCATABLE = List.of("two-loops", "numbered", "phi3");

    static String template(String name) {
        try (InputStream in = LocatedChatRenderingTest.class.getResourceAsStream("chat-templates/" + name + ".jinja")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static List<Message> chat(boolean system, int turns, String extra) {
        List<Message> msgs = new ArrayList<>();
        if (system) {
            msgs.add(Message.system("  Be brief.  "));
        }
        for (int i = 0; i < turns; i++) {
            msgs.add(Message.user("q" + i + " {{ 7*7 }} {% if true %}x{% endif %}" + extra));
            msgs.add(Message.assistant(i % 2 == 0 ? "a" + i + " \n" : "\n answer " + i + extra));
        }
        return msgs;
    }

    /** The turns, or the error's message, and the renderings it took. */
    record Outcome(String turns, long renders) {
    }

    static Outcome outcome(String templateName, List<Message> msgs, boolean located) {
        JinjaChatTemplate t = new JinjaChatTemplate(template(templateName), "<s>", "</s>");
        SftTokenizer sft = new SftTokenizer(null, t, AlpacaTemplate.STANFORD, 1 << 20);
        sft.locatedRendering = located;
        String result;
        try {
            String full = t.render(msgs, false);
            result = sft.assistantTurnEnds(msgs, full).stream().map(a -> a[0] + "-" + a[1])
                    .collect(Collectors.joining(","));
        } catch (IllegalArgumentException e) {
            result = "error: " + e.getMessage();
        }
        return new Outcome(result, sft.work()[0]);
    }

    @Test
    void oneLocatedRenderingGivesTheTurnsOfRenderingEveryPrefix() {
        int located = 0;
        for (String name : LOCATABLE) {
            for (boolean system : new boolean[] {false, true}) {
                for (int turns : new int[] {1, 2, 7}) {
                    List<Message> msgs = chat(system, turns, "");
                    Outcome exact = outcome(name, msgs, false);
                    Outcome fast = outcome(name, msgs, true);
                    assertThat(fast.turns()).as("%s, system %s, %d turns", name, system, turns)
                            .isEqualTo(exact.turns());
                    if (!exact.turns().startsWith("error")) {
                        assertThat(exact.renders()).isEqualTo(2L * turns);
                        // the located rendering, then the first, a middle and the last turn the exact way
                        assertThat(fast.renders()).as("%s, system %s, %d turns", name, system, turns)
                                .isEqualTo(1 + 2L * Math.min(turns, 3));
                        located++;
                    }
                }
            }
        }
        // the templates refuse what their models refuse (Gemma and Mistral a system message: 3 cases each), Qwen3's
        // is refused for more than one turn (an earlier turn renders without its thinking block once it is not the
        // last: 4 cases), and the rest are accepted
        assertThat(located).isEqualTo(LOCATABLE.size() * 6 - 3 - 3 - 4);
    }

    @Test
    void templatesTheShortcutCannotLocateFallBackToEveryPrefix() {
        for (String name : NOT_LOCATABLE) {
            int turns = name.equals("phi3") ? 1 : 7;
            List<Message> msgs = chat(true, turns, "");
            Outcome exact = outcome(name, msgs, false);
            Outcome fast = outcome(name, msgs, true);
            assertThat(exact.turns()).doesNotStartWith("error");
            assertThat(fast.turns()).as(name).isEqualTo(exact.turns());
            if (turns > 1) {
                assertThat(fast.renders()).as(name).isGreaterThan(1 + 2L * Math.min(turns, 3));
            } else {
                // one turn costs the same either way: the loop is located, but text follows it (eos), so the
                // shortcut gives up before taking any turn from it
                JinjaChatTemplate.Located loc = new JinjaChatTemplate(template(name), "<s>", "</s>")
                        .renderLocated(msgs, false);
                assertThat(loc.loopEnd()).as(name).isLessThan(loc.text().length());
            }
        }
    }

    @Test
    void contentHoldingAMarkerCharacterFallsBack() {
        for (char mark : new char[] {JinjaChatTemplate.TURN_MARK, JinjaChatTemplate.LOOP_END_MARK}) {
            List<Message> msgs = chat(true, 4, "" + mark);
            Outcome exact = outcome("chatml", msgs, false);
            Outcome fast = outcome("chatml", msgs, true);
            assertThat(fast.turns()).isEqualTo(exact.turns());
            assertThat(fast.renders()).isEqualTo(exact.renders());
        }
    }

    @Test
    void locatedRenderingMarksEachIterationOfTheLoopOverTheMessages() {
        JinjaChatTemplate t = new JinjaChatTemplate(template("llama31-system"), "<s>", "</s>");
        List<Message> msgs = chat(true, 2, "");
        JinjaChatTemplate.Located loc = t.renderLocated(msgs, false);
        String full = t.render(msgs, false);
        assertThat(loc.text()).isEqualTo(full);
        // the system message is rendered before the loop (messages[1:]), the others each start an iteration
        assertThat(loc.starts()[0]).isEqualTo(-1);
        for (int i = 1; i < msgs.size(); i++) {
            assertThat(full.substring(loc.starts()[i])).startsWith("<|start_header_id|>" + msgs.get(i).role());
        }
        assertThat(loc.loopEnd()).isEqualTo(full.length());
        assertThat(new JinjaChatTemplate(template("two-loops"), "", "").renderLocated(msgs, false)).isNull();
        assertThat(Map.of("reversed-only", "{% for m in messages|reverse %}{{ m['content'] }}{% endfor %}").values())
                .allSatisfy(src -> assertThat(new JinjaChatTemplate(src, "", "").renderLocated(msgs, false)).isNull());
    }

    @Test
    void anEightHundredTurnChatTakesAConstantNumberOfRenderings() {
        List<Message> msgs = chat(true, 800, "");
        Outcome fast = outcome("chatml", msgs, true);
        assertThat(fast.renders()).isEqualTo(1 + 2 * 3);
        assertThat(fast.turns().split(",")).hasSize(800);
    }
}
