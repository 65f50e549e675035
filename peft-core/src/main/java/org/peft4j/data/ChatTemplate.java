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

    /**
     * The template of the tokenizer's files when it has one, else {@link #simple(String)} with its eos token.
     */
    static ChatTemplate forTokenizer(Tokenizer tokenizer) {
        if (tokenizer instanceof HfTokenizer hf) {
            ChatTemplate t = hf.chatTemplate();
            if (t != null) {
                return t;
            }
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
