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
        checkPrefix(promptIds, text);
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
        String full = chatTemplate.render(messages, false);
        long[] ids = tokenizer.encode(full, false);
        long[] labels = new long[ids.length];
        Arrays.fill(labels, IGNORE_INDEX);
        for (String[] turn : assistantTurns(messages, full)) {
            long[] before = tokenizer.encode(turn[0], false);
            long[] through = tokenizer.encode(turn[1], false);
            checkPrefix(before, ids);
            checkPrefix(through, ids);
            for (int i = before.length; i < Math.min(through.length, ids.length); i++) {
                labels[i] = ids[i];
            }
        }
        return truncate(ids, labels);
    }

    private void checkPrefix(long[] prefix, long[] whole) {
        boolean ok = prefix.length <= whole.length
                && Arrays.equals(prefix, Arrays.copyOf(whole, prefix.length));
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

    /** For each assistant turn, the rendering before it (with the generation prompt) and through it. */
    List<String[]> assistantTurns(List<Message> messages, String full) {
        List<String[]> turns = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).isAssistant()) {
                continue;
            }
            String before = chatTemplate.render(messages.subList(0, i), true);
            String through = chatTemplate.render(messages.subList(0, i + 1), false);
            if (!through.startsWith(before) || !full.startsWith(through)) {
                throw new IllegalArgumentException("the chat template does not render conversation prefixes as "
                        + "prefixes of the whole conversation (assistant turn " + i + "); cannot locate the "
                        + "assistant turns");
            }
            turns.add(new String[] {before, through});
        }
        return turns;
    }

    private TokenizedExample truncate(long[] ids, long[] labels) {
        if (ids.length <= maxLength) {
            return new TokenizedExample(ids, labels);
        }
        return new TokenizedExample(Arrays.copyOf(ids, maxLength), Arrays.copyOf(labels, maxLength));
    }
}
