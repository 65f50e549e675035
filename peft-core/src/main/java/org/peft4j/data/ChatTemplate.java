package org.peft4j.data;

import java.util.List;

/** Renders a chat as the text the model is trained on. */
public interface ChatTemplate {
    /**
     * The text of {@code messages}; with {@code addGenerationPrompt} the header of the next assistant turn is
     * appended.
     */
    String render(List<Message> messages, boolean addGenerationPrompt);

    /**
     * A Jinja template as found in {@code tokenizer_config.json}'s {@code chat_template}, rendered with Jinjava
     * with transformers' settings (trim_blocks, lstrip_blocks) and variables ({@code messages},
     * {@code bos_token}, {@code eos_token}, {@code add_generation_prompt}, {@code raise_exception}).
     */
    static ChatTemplate jinja(String template, String bosToken, String eosToken) {
        return new JinjaChatTemplate(template, bosToken, eosToken);
    }

    /** transformers' ValueError when a tokenizer has no chat template and none is passed. */
    String NO_CHAT_TEMPLATE = "Cannot use chat template functions because tokenizer.chat_template is not set and no "
            + "template argument was passed! For information about writing templates and setting the "
            + "tokenizer.chat_template attribute, please see the documentation at "
            + "https://huggingface.co/docs/transformers/main/en/chat_templating";

    /**
     * The template of a Hugging Face tokenizer's files; when its files have none, a template whose
     * {@link #render} throws {@link org.peft4j.Peft4jException} with transformers' ValueError text (as
     * {@code apply_chat_template} raises), so data without chats (alpaca records) still works. Other tokenizers
     * (peft4j's {@link ByteLevelTokenizer}) get the built-in {@link #simple(String)} format with their eos token.
     *
     * @param tokenizer the tokenizer
     * @return its chat template
     */
    static ChatTemplate forTokenizer(Tokenizer tokenizer) {
        if (tokenizer instanceof HfTokenizer hf) {
            ChatTemplate t = hf.chatTemplate();
            if (t != null) {
                return t;
            }
            return (messages, addGenerationPrompt) -> {
                throw new org.peft4j.Peft4jException(NO_CHAT_TEMPLATE + " (no chat_template in "
                        + hf.folder().resolve("tokenizer_config.json") + " and no chat_template.jinja)");
            };
        }
        return simple(tokenizer.eosToken());
    }

    /**
     * A built-in format for tokenizers without a template: each turn is {@code <|role|>\n content eos \n}
     * ({@code eos} omitted when null); the generation prompt is {@code <|assistant|>\n}.
     */
    static ChatTemplate simple(String eosToken) {
        String eos = eosToken == null ? "" : eosToken;
        return (messages, addGenerationPrompt) -> {
            StringBuilder sb = new StringBuilder();
            for (Message m : messages) {
                sb.append("<|").append(m.role()).append("|>\n").append(m.content()).append(eos).append('\n');
            }
            if (addGenerationPrompt) {
                sb.append("<|assistant|>\n");
            }
            return sb.toString();
        };
    }
}
