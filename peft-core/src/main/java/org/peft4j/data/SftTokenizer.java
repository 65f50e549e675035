package org.peft4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tokenises instruction records for supervised fine-tuning: the loss counts only the responses.
 *
 * <p><b>Alpaca</b>: {@code [bos] prompt output [eos]}; only the tokens of the output and the eos are counted.
 *
 * <p><b>Chat</b>: the conversation is rendered once and tokenised once. The character span of each assistant
 * turn is found by rendering prefixes of the conversation: the turn starts where
 * {@code render(messages[0..i), addGenerationPrompt=true)} ends and ends where
 * {@code render(messages[0..i])} ends, so it covers the content and the template's end-of-turn marker (e.g.
 * {@code <|eot_id|>}) but not the assistant header. A token is counted when its first char lies in an
 * assistant span (char offsets from {@link Tokenizer#encodeWithOffsets}); a token that straddles a span boundary
 * (a merge across it) therefore goes with the side of its first char. A template whose renderings of prefixes
 * are not prefixes of the whole rendering is rejected.
 *
 * <p>Examples longer than {@code maxLength} tokens are truncated on the right.
 */
public final class SftTokenizer {
    /** The label of tokens the loss ignores (torch's cross-entropy default). */
    public static final long IGNORE_INDEX = org.peft4j.train.CausalLMLoss.IGNORE_INDEX;

    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final AlpacaTemplate alpacaTemplate;
    private final int maxLength;

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
        TokenizedText t = tokenizer.encodeWithOffsets(prompt + record.output());
        Long bos = tokenizer.bosTokenId();
        Long eos = tokenizer.eosTokenId();
        int n = t.ids().length + (bos == null ? 0 : 1) + (eos == null ? 0 : 1);
        long[] ids = new long[n];
        long[] labels = new long[n];
        int k = 0;
        if (bos != null) {
            ids[k] = bos;
            labels[k++] = IGNORE_INDEX;
        }
        for (int i = 0; i < t.ids().length; i++, k++) {
            ids[k] = t.ids()[i];
            labels[k] = t.charStart()[i] >= prompt.length() ? ids[k] : IGNORE_INDEX;
        }
        if (eos != null) {
            ids[k] = eos;
            labels[k] = eos;
        }
        return truncate(ids, labels);
    }

    private TokenizedExample chat(List<Message> messages) {
        String full = chatTemplate.render(messages, false);
        List<int[]> spans = assistantSpans(messages, full);
        TokenizedText t = tokenizer.encodeWithOffsets(full);
        long[] ids = t.ids();
        long[] labels = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            labels[i] = IGNORE_INDEX;
            for (int[] s : spans) {
                if (t.charStart()[i] >= s[0] && t.charStart()[i] < s[1]) {
                    labels[i] = ids[i];
                    break;
                }
            }
        }
        return truncate(ids, labels);
    }

    /** The char span {@code [start, end)} of each assistant turn in {@code full}. */
    List<int[]> assistantSpans(List<Message> messages, String full) {
        List<int[]> spans = new ArrayList<>();
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
            spans.add(new int[] {before.length(), through.length()});
        }
        return spans;
    }

    private TokenizedExample truncate(long[] ids, long[] labels) {
        if (ids.length <= maxLength) {
            return new TokenizedExample(ids, labels);
        }
        return new TokenizedExample(Arrays.copyOf(ids, maxLength), Arrays.copyOf(labels, maxLength));
    }
}
