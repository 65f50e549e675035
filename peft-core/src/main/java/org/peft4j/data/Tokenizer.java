package org.peft4j.data;

/** Text to token ids and back. */
public interface Tokenizer {
    /**
     * Token ids of {@code text} with the tokenizer's special tokens (e.g. a Llama bos), as transformers'
     * {@code tokenizer.encode(text)}, whose {@code add_special_tokens} is true by default. Text that is already a
     * rendered chat template (which writes its own bos) or a piece of a longer text is encoded with
     * {@code encode(text, false)}, as transformers' {@code apply_chat_template} and TRL do.
     *
     * @param text the text (special tokens written in it are recognised)
     * @return the token ids
     */
    default long[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Token ids of {@code text}, with the tokenizer's special tokens (e.g. bos) when {@code addSpecialTokens}.
     *
     * @param text the text (special tokens written in it are recognised)
     * @param addSpecialTokens transformers' {@code add_special_tokens}
     * @return the token ids
     */
    long[] encode(String text, boolean addSpecialTokens);

    /**
     * Like {@code encode(text, false)} (no special tokens added), with the chars each token came from.
     *
     * @param text the text (special tokens written in it are recognised)
     * @return the token ids with each token's character offsets in {@code text}
     */
    TokenizedText encodeWithOffsets(String text);

    /** Text of {@code ids}, special tokens included. */
    String decode(long[] ids);

    /**
     * transformers' {@code decode(ids, skip_special_tokens)}: with {@code skipSpecialTokens}, special tokens
     * are left out of the text. This default leaves out the bos, eos and pad ids; tokenizers with more special
     * tokens override it.
     *
     * @param ids the token ids
     * @param skipSpecialTokens whether to leave special tokens out
     * @return the text
     */
    default String decode(long[] ids, boolean skipSpecialTokens) {
        if (!skipSpecialTokens) {
            return decode(ids);
        }
        java.util.Set<Long> special = new java.util.HashSet<>(eosTokenIds());
        for (Long id : new Long[] {bosTokenId(), eosTokenId(), padTokenId()}) {
            if (id != null) {
                special.add(id);
            }
        }
        return decode(java.util.Arrays.stream(ids).filter(id -> !special.contains(id)).toArray());
    }

    /**
     * transformers' {@code apply_chat_template(messages, add_generation_prompt=..., tokenize=True)}: the chat
     * rendered with this tokenizer's chat template ({@link ChatTemplate#forTokenizer}) and encoded without adding
     * special tokens (the template writes them). ChatGLM's tokenizer builds its own format.
     *
     * @param messages the conversation
     * @param addGenerationPrompt whether to append the header of the assistant's next turn
     * @return the token ids
     * @throws org.peft4j.Peft4jException when a Hugging Face tokenizer has no chat template (as transformers raises)
     */
    default long[] applyChatTemplate(java.util.List<Message> messages, boolean addGenerationPrompt) {
        return encode(ChatTemplate.forTokenizer(this).render(messages, addGenerationPrompt), false);
    }

    /** Beginning-of-sequence token id, or null. */
    Long bosTokenId();

    /**
     * End-of-sequence token id, or null.
     *
     * @return the id, or null when the tokenizer has none
     */
    Long eosTokenId();

    /**
     * Every id that ends a sequence, the {@link #eosTokenId()} first (empty when there is none). Models such as
     * Llama 3 list several in their configs.
     *
     * @return the ids, unmodifiable
     */
    default java.util.List<Long> eosTokenIds() {
        return eosTokenId() == null ? java.util.List.of() : java.util.List.of(eosTokenId());
    }

    /**
     * Padding token id, or null.
     *
     * @return the id, or null when the tokenizer has none
     */
    Long padTokenId();

    /**
     * Number of ids (the largest id plus one).
     *
     * @return the vocabulary size, added tokens included
     */
    int vocabSize();

    /**
     * Text of the bos token, or null.
     *
     * @return the token's text, or null
     */
    default String bosToken() {
        return bosTokenId() == null ? null : decode(new long[] {bosTokenId()});
    }

    /**
     * Text of the eos token, or null.
     *
     * @return the token's text, or null
     */
    default String eosToken() {
        return eosTokenId() == null ? null : decode(new long[] {eosTokenId()});
    }
}
