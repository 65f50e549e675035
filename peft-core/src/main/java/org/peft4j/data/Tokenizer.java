package org.peft4j.data;

/** Text to token ids and back. */
public interface Tokenizer {
    /** Token ids of {@code text}, adding no special tokens (special tokens written in the text are recognised). */
    long[] encode(String text);

    /** Token ids of {@code text}, with the tokenizer's special tokens (e.g. bos) when {@code addSpecialTokens}. */
    long[] encode(String text, boolean addSpecialTokens);

    /** Like {@link #encode(String)}, with the chars each token came from. */
    TokenizedText encodeWithOffsets(String text);

    /** Text of {@code ids}, special tokens included. */
    String decode(long[] ids);

    /** Beginning-of-sequence token id, or null. */
    Long bosTokenId();

    /** End-of-sequence token id, or null. */
    Long eosTokenId();

    /**
     * Every id that ends a sequence, the {@link #eosTokenId()} first (empty when there is none). Models such as
     * Llama 3 list several in their configs.
     */
    default java.util.List<Long> eosTokenIds() {
        return eosTokenId() == null ? java.util.List.of() : java.util.List.of(eosTokenId());
    }

    /** Padding token id, or null. */
    Long padTokenId();

    /** Number of ids (the largest id plus one). */
    int vocabSize();

    /** Text of the bos token, or null. */
    default String bosToken() {
        return bosTokenId() == null ? null : decode(new long[] {bosTokenId()});
    }

    /** Text of the eos token, or null. */
    default String eosToken() {
        return eosTokenId() == null ? null : decode(new long[] {eosTokenId()});
    }
}
