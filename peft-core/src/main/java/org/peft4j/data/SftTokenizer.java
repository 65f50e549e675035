package org.peft4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tokenises instruction records for supervised fine-tuning: the loss counts only the responses.
 *
 * <p><b>Alpaca</b>: {@code [bos] prompt output [eos]}; only the tokens of the output and the eos are counted.
 *
 * <p><b>Chat</b>: the conversation is rendered once and tokenised once; every assistant turn is counted. Turn
 * {@code i} starts where {@code render(messages[0..i), addGenerationPrompt=true)} ends and ends where
 * {@code render(messages[0..i])} ends, so it covers the content and the template's end-of-turn marker (e.g.
 * {@code <|eot_id|>}) but not the assistant header. A template whose renderings of prefixes are not prefixes of the
 * whole rendering is rejected.
 *
 * <p><b>Where a response starts, in tokens</b>: as TRL's {@code SFTTrainer} does for prompt-completion data, the
 * prompt (the text before a response, resp. before its end) is tokenised on its own, and its number of tokens is the
 * index of the first (resp. last + 1) counted token of the whole text. When no BPE merge crosses the boundary (the
 * usual case: templates end prompts with a newline or a special token) the prompt's tokens are a prefix of the whole
 * text's and this is exact. When a merge crosses it, the prompt's tokens are not a prefix; the count is used anyway,
 * so labels may shift by a token at that boundary, exactly as in TRL (which warns about the mismatch); a warning is
 * logged on the first such example.
 *
 * <p><b>Work</b>: a chat is rendered a constant number of times (at most 8) when its template is a Jinja template
 * whose loop over the messages can be located: the template is rendered once with that loop marked, the turns'
 * ends are read off the marks, and the first, a middle and the last turn are checked against their exact
 * renderings; any doubt falls back to rendering {@code 1 + 2 * assistantTurns} prefixes (quadratic in characters).
 * It is tokenised in time linear in its length: with an {@link HfTokenizer} whose files allow it (see {@code HfTokenizer.segmentBoundaryIds}), a
 * prefix's tokens are the whole text's tokens up to the last special token it contains plus the tokens of the rest
 * of the prefix tokenised alone, which is what tokenising the prefix whole gives; the first chat of each
 * {@code SftTokenizer} checks this against whole prefixes and falls back to them (with a warning) if they differ.
 * Other tokenizers tokenise every prefix whole.
 *
 * <p>With a {@link ChatGLMTokenizer}, chats are tokenised from ids as ChatGLM3's fine-tuning recipe does
 * ({@link ChatGLMTokenizer#finetuneExample}), not through a rendered template.
 *
 * <p>Examples longer than {@code maxLength} tokens are truncated on the right.
 */
public final class SftTokenizer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SftTokenizer.class);
    /** The label of tokens the loss ignores (torch's cross-entropy default). */
    public static final long IGNORE_INDEX = Batch.IGNORE_INDEX;

    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final AlpacaTemplate alpacaTemplate;
    private final int maxLength;
    private int mismatches;
    private boolean fastPrefixes = true;
    private boolean checkedFastPrefixes;
    /** Whether chats are located in one rendering where the template allows (tests switch it off to compare). */
    boolean locatedRendering = true;
    private long renders;
    private long tokenizerCalls;
    private long tokenizedChars;

    /**
     * @param tokenizer the tokenizer
     * @param chatTemplate renders chat records
     * @param alpacaTemplate formats alpaca prompts
     * @param maxLength the longest example kept, in tokens
     */
    public SftTokenizer(Tokenizer tokenizer, ChatTemplate chatTemplate, AlpacaTemplate alpacaTemplate,
            int maxLength) {
        if (maxLength <= 0) {
            throw new IllegalArgumentException("maxLength must be positive, got " + maxLength);
        }
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.alpacaTemplate = alpacaTemplate;
        this.maxLength = maxLength;
    }

    /** The tokenizer's own chat template (or the built-in one) and the Stanford Alpaca template. */
    public static SftTokenizer of(Tokenizer tokenizer, int maxLength) {
        return new SftTokenizer(tokenizer, ChatTemplate.forTokenizer(tokenizer), AlpacaTemplate.STANFORD,
                maxLength);
    }

    /** Tokenises every record. */
    public List<TokenizedExample> tokenizeAll(List<? extends InstructionRecord> records) {
        List<TokenizedExample> out = new ArrayList<>(records.size());
        for (InstructionRecord r : records) {
            out.add(tokenize(r));
        }
        return out;
    }

    /** Tokenises one record. */
    public TokenizedExample tokenize(InstructionRecord record) {
        if (record instanceof InstructionRecord.Alpaca a) {
            return alpaca(a);
        }
        return chat(((InstructionRecord.Chat) record).messages());
    }

    private TokenizedExample alpaca(InstructionRecord.Alpaca record) {
        String prompt = alpacaTemplate.prompt(record);
        long[] promptIds = tokenizer.encode(prompt, false);
        long[] text = tokenizer.encode(prompt + record.output(), false);
        checkPrefix(promptIds, text, 0);
        Long bos = tokenizer.bosTokenId();
        Long eos = tokenizer.eosTokenId();
        int n = text.length + (bos == null ? 0 : 1) + (eos == null ? 0 : 1);
        long[] ids = new long[n];
        long[] labels = new long[n];
        int k = 0;
        if (bos != null) {
            ids[k] = bos;
            labels[k++] = IGNORE_INDEX;
        }
        for (int i = 0; i < text.length; i++, k++) {
            ids[k] = text[i];
            labels[k] = i >= promptIds.length ? ids[k] : IGNORE_INDEX;
        }
        if (eos != null) {
            ids[k] = eos;
            labels[k] = eos;
        }
        return truncate(ids, labels);
    }

    private TokenizedExample chat(List<Message> messages) {
        if (tokenizer instanceof ChatGLMTokenizer glm) {
            // ChatGLM3 builds chats from ids (role tokens), not from a rendered text
            TokenizedExample e = glm.finetuneExample(messages);
            return truncate(e.inputIds(), e.labels());
        }
        String full = render(messages, false);
        List<int[]> turns = assistantTurnEnds(messages, full);
        PrefixCounts counts = prefixCounts(full, turns);
        long[] ids = counts.ids();
        long[] labels = new long[ids.length];
        Arrays.fill(labels, IGNORE_INDEX);
        for (int[] turn : turns) {
            int from = counts.count(turn[0]);
            int to = counts.count(turn[1]);
            for (int i = from; i < Math.min(to, ids.length); i++) {
                labels[i] = ids[i];
            }
        }
        return truncate(ids, labels);
    }

    private String render(List<Message> messages, boolean addGenerationPrompt) {
        renders++;
        return chatTemplate.render(messages, addGenerationPrompt);
    }

    private long[] encode(String text) {
        tokenizerCalls++;
        tokenizedChars += text.length();
        return tokenizer.encode(text, false);
    }

    /**
     * The number of tokens of {@code full[0, p)} tokenised on its own, for the prefixes of one text. Exactly as
     * tokenising each prefix, with a mismatch counted (and warned about once) when the prefix's tokens are not a
     * prefix of the whole text's.
     */
    private interface PrefixCounts {
        long[] ids();

        int count(int p);
    }

    private PrefixCounts prefixCounts(String full, List<int[]> turns) {
        java.util.Set<Long> boundaries = fastPrefixes && tokenizer instanceof HfTokenizer hf
                ? hf.segmentBoundaryIds() : null;
        if (boundaries == null) {
            long[] ids = encode(full);
            return new PrefixCounts() {
                public long[] ids() {
                    return ids;
                }

                public int count(int p) {
                    long[] prefix = encode(full.substring(0, p));
                    checkPrefix(prefix, ids, 0);
                    return prefix.length;
                }
            };
        }
        tokenizerCalls++;
        tokenizedChars += full.length();
        TokenizedText text = tokenizer.encodeWithOffsets(full);
        long[] ids = text.ids();
        // the tokens after which the text is tokenised independently (see HfTokenizer.segmentBoundaryIds)
        int[] index = new int[ids.length];
        int[] end = new int[ids.length];
        int n = 0;
        for (int i = 0; i < ids.length; i++) {
            if (boundaries.contains(ids[i]) && (n == 0 || text.charEnd()[i] >= end[n - 1])) {
                index[n] = i;
                end[n++] = text.charEnd()[i];
            }
        }
        int boundaryCount = n;
        PrefixCounts fast = new PrefixCounts() {
            public long[] ids() {
                return ids;
            }

            public int count(int p) {
                // the last boundary token ending at or before p: its tokens and those before it are shared
                int lo = 0;
                int hi = boundaryCount;
                while (lo < hi) {
                    int mid = (lo + hi) >>> 1;
                    if (end[mid] <= p) {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                int head = lo == 0 ? 0 : index[lo - 1] + 1;
                int from = lo == 0 ? 0 : end[lo - 1];
                long[] tail = from == p ? new long[0] : encode(full.substring(from, p));
                checkPrefix(tail, ids, head);
                return head + tail.length;
            }
        };
        if (!checkedFastPrefixes && !turns.isEmpty()) {
            checkedFastPrefixes = true;
            // once per SftTokenizer, the first turn's prefixes the slow way: the shortcut must agree with it
            int saved = mismatches;
            for (int p : turns.get(0)) {
                int slow = encode(full.substring(0, p)).length;
                if (fast.count(p) != slow) {
                    fastPrefixes = false;
                    mismatches = saved;
                    LOG.warn("tokenising prefixes piecewise after special tokens disagrees with tokenising them "
                            + "whole for this tokenizer; tokenising every prefix whole (slower)");
                    return prefixCounts(full, turns);
                }
            }
            mismatches = saved;
        }
        return fast;
    }

    /** Whether {@code prefix} equals {@code whole[offset, offset + prefix.length)}; counts a mismatch if not. */
    private void checkPrefix(long[] prefix, long[] whole, int offset) {
        boolean ok = offset + prefix.length <= whole.length
                && Arrays.equals(prefix, 0, prefix.length, whole, offset, offset + prefix.length);
        if (!ok) {
            mismatches++;
            if (mismatches == 1) {
                LOG.warn("the tokens of a prompt are not a prefix of the tokens of prompt + response (a merge "
                        + "crosses the boundary); as in TRL, labels start after the prompt's token count and may "
                        + "be off by a token at that boundary");
            }
        }
    }

    /** How many prompt/response boundaries so far had a merge across them (see the class comment). */
    public int boundaryMismatches() {
        return mismatches;
    }

    /**
     * For each assistant turn, the length of the rendering before it (with the generation prompt) and through it;
     * both renderings are prefixes of {@code full}. Found in one located rendering when the template allows (see
     * {@link #locatedTurnEnds}), else by rendering the prefixes.
     */
    List<int[]> assistantTurnEnds(List<Message> messages, String full) {
        if (locatedRendering && chatTemplate instanceof JinjaChatTemplate jinja) {
            List<int[]> located = locatedTurnEnds(jinja, messages, full);
            if (located != null) {
                return located;
            }
        }
        List<int[]> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).isAssistant()) {
                turns.add(exactTurnEnds(messages, full, i));
            }
        }
        return turns;
    }

    /** Turn {@code i}'s ends by its definition: two renderings of prefixes. */
    private int[] exactTurnEnds(List<Message> messages, String full, int i) {
        String before = render(messages.subList(0, i), true);
        String through = render(messages.subList(0, i + 1), false);
        if (!through.startsWith(before) || !full.startsWith(through)) {
            throw new IllegalArgumentException("the chat template does not render conversation prefixes as "
                    + "prefixes of the whole conversation (assistant turn " + i + "); cannot locate the "
                    + "assistant turns");
        }
        return new int[] {before.length(), through.length()};
    }

    /**
     * The turns' ends from one rendering in which the template's loop over the messages is located
     * ({@link JinjaChatTemplate#renderLocated}): a turn ends where the next message's iteration starts (the last
     * where the loop ends, which must be the end of the text), and starts after the generation prompt, which must
     * begin the turn's own iteration. The generation prompt is taken from the first assistant turn rendered the
     * exact way, and the first, a middle and the last turn are checked against their exact renderings, so the
     * work is a constant number of renderings. Null (use the exact way) when the template cannot be located or a
     * check fails.
     */
    private List<int[]> locatedTurnEnds(JinjaChatTemplate jinja, List<Message> messages, String full) {
        List<Integer> assistants = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).isAssistant()) {
                assistants.add(i);
            }
        }
        if (assistants.isEmpty()) {
            return List.of();
        }
        if (!jinja.canLocate(messages)) {
            return null;
        }
        renders++;
        JinjaChatTemplate.Located located = jinja.renderLocated(messages, false);
        if (located == null || !located.text().equals(full) || located.loopEnd() != full.length()) {
            return null;
        }
        int[] starts = located.starts();
        int first = assistants.get(0);
        int[] exactFirst = exactTurnEnds(messages, full, first);
        if (starts[first] < 0 || exactFirst[0] < starts[first]) {
            return null;
        }
        String generationPrompt = full.substring(starts[first], exactFirst[0]);
        List<int[]> turns = new ArrayList<>(assistants.size());
        for (int i : assistants) {
            int start = starts[i];
            int end = i + 1 < messages.size() ? starts[i + 1] : full.length();
            if (start < 0 || end < 0 || !full.startsWith(generationPrompt, start)
                    || start + generationPrompt.length() > end) {
                return null;
            }
            turns.add(new int[] {start + generationPrompt.length(), end});
        }
        int last = assistants.size() - 1;
        int[] checked = last == 0 ? new int[] {0} : new int[] {0, last / 2, last};
        for (int k : checked) {
            int[] exact = k == 0 ? exactFirst : exactTurnEnds(messages, full, assistants.get(k));
            if (!Arrays.equals(exact, turns.get(k))) {
                return null;
            }
        }
        return turns;
    }

    /** Work done so far, for tests of how it scales: renders, tokenizer calls, chars tokenised. */
    long[] work() {
        return new long[] {renders, tokenizerCalls, tokenizedChars};
    }

    private TokenizedExample truncate(long[] ids, long[] labels) {
        if (ids.length <= maxLength) {
            return new TokenizedExample(ids, labels);
        }
        return new TokenizedExample(Arrays.copyOf(ids, maxLength), Arrays.copyOf(labels, maxLength));
    }
}
