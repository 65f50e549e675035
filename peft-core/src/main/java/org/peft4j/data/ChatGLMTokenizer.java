package org.peft4j.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * THUDM's {@code ChatGLMTokenizer} (tokenization_chatglm.py of ChatGLM2-6B / ChatGLM3-6B): a SentencePiece model
 * plus nine special tokens numbered after its pieces ({@code [MASK] [gMASK] [sMASK] sop eop <|system|> <|user|>
 * <|assistant|> <|observation|>}), {@code [gMASK] sop} as the prefix added to every encoded text, the model's eos as
 * eos and its unknown id as padding, and the chat prompt formats of ChatGLM3 ({@link #buildChatInput}) and ChatGLM2
 * ({@link #buildChatGlm2Prompt}). Special tokens written in a text are not recognised, as with the Python
 * tokenizer's default {@code encode_special_tokens=False}.
 */
public final class ChatGLMTokenizer implements Tokenizer, AutoCloseable {
    /** The special tokens in id order, starting at the SentencePiece vocabulary size. */
    public static final List<String> SPECIAL_TOKENS = List.of("[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
            "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>");

    private final SentencePieceTokenizer sp;
    private final boolean chatglm3;
    private final Map<String, Long> special = new LinkedHashMap<>();

    /**
     * ChatGLM's tokenizer over its SentencePiece model, with the special tokens ({@code [gMASK]}, {@code sop}, role
     * tokens) numbered after the pieces as {@code ChatGLMTokenizer} in its remote code.
     *
     * @param sp the SentencePiece tokenizer of {@code tokenizer.model}
     */
    public ChatGLMTokenizer(SentencePieceTokenizer sp) {
        this(sp, true);
    }

    /**
     * ChatGLM3's tokenizer ({@code chatglm3}) or ChatGLM2's: ChatGLM2's {@code SPTokenizer} has only the first five
     * special tokens ({@code [MASK] [gMASK] [sMASK] sop eop}), decodes them to nothing, and formats chats as its
     * {@code build_prompt} ({@code [Round N]}) instead of role tokens.
     *
     * @param sp the SentencePiece tokenizer of {@code tokenizer.model}
     * @param chatglm3 true for ChatGLM3's tokenizer, false for ChatGLM2's
     */
    public ChatGLMTokenizer(SentencePieceTokenizer sp, boolean chatglm3) {
        this.sp = sp;
        this.chatglm3 = chatglm3;
        long id = sp.vocabSize();
        for (String t : specialTokens()) {
            special.put(t, id++);
        }
    }

    /** Whether this is ChatGLM3's tokenizer (role tokens) rather than ChatGLM2's. */
    public boolean isChatGlm3() {
        return chatglm3;
    }

    /** The special tokens in id order: all nine for ChatGLM3, the first five for ChatGLM2. */
    public List<String> specialTokens() {
        return chatglm3 ? SPECIAL_TOKENS : SPECIAL_TOKENS.subList(0, 5);
    }

    /** Loads {@code tokenizer.model} from a folder (or the file itself). */
    public static ChatGLMTokenizer load(Path path) {
        return new ChatGLMTokenizer(SentencePieceTokenizer.load(path));
    }

    /** The SentencePiece tokenizer underneath. */
    public SentencePieceTokenizer sentencePiece() {
        return sp;
    }

    /** The id of a special token ({@code get_command}): one of {@link #SPECIAL_TOKENS}. */
    public long specialTokenId(String token) {
        Long id = special.get(token);
        if (id == null) {
            throw new IllegalArgumentException(token + " is not a special token for GLMTokenizer");
        }
        return id;
    }

    /** With {@code addSpecialTokens}, {@code [gMASK] sop} first ({@code build_inputs_with_special_tokens}). */
    @Override
    public long[] encode(String text, boolean addSpecialTokens) {
        long[] ids = sp.encode(text, false);
        return addSpecialTokens ? concat(prefix(), ids) : ids;
    }

    @Override
    public TokenizedText encodeWithOffsets(String text) {
        return sp.encodeWithOffsets(text);
    }

    /** {@code [gMASK] sop}. */
    public long[] prefix() {
        return new long[] {specialTokenId("[gMASK]"), specialTokenId("sop")};
    }

    /**
     * ChatGLMTokenizer's {@code decode}: each id to its token ({@code _convert_id_to_token}: a special token's text,
     * nothing for the eos, bos and pad ids, else its piece), the tokens joined by SentencePiece's
     * {@code decode_pieces}.
     */
    @Override
    public String decode(long[] ids) {
        List<String> tokens = new ArrayList<>();
        int base = sp.vocabSize();
        SentencePieceModel m = sp.model();
        for (long id : ids) {
            if (id >= base && id < base + specialTokens().size()) {
                // ChatGLM3 writes its command tokens; ChatGLM2's convert_id_to_token gives "" for them
                tokens.add(chatglm3 ? SPECIAL_TOKENS.get((int) (id - base)) : "");
            } else if (id == m.eosId() || id == m.bosId() || id == m.unkId() || id < 0 || id > base) {
                tokens.add("");
            } else {
                tokens.add(sp.idToPiece((int) id));
            }
        }
        return sp.decodePieces(tokens);
    }

    /** One message of a ChatGLM3 conversation: a role (system, user, assistant, observation) and its content. */
    public record ChatMessage(String role, String content, String metadata) {
        /**
         * A message without metadata.
         *
         * @param role system, user, assistant or observation
         * @param content the text
         */
        public ChatMessage(String role, String content) {
            this(role, content, "");
        }
    }

    /**
     * ChatGLM3's {@code build_chat_input}: {@code [gMASK] sop}, then for each history message and the query
     * {@code <|role|>} + encode(metadata + "\n") + encode(content), then {@code <|assistant|>}.
     */
    public long[] buildChatInput(String query, List<ChatMessage> history, String role) {
        List<long[]> parts = new ArrayList<>();
        parts.add(prefix());
        for (ChatMessage m : history) {
            parts.add(singleMessage(m.role(), m.metadata(), m.content()));
        }
        parts.add(singleMessage(role, "", query));
        parts.add(new long[] {specialTokenId("<|assistant|>")});
        return concat(parts.toArray(new long[0][]));
    }

    /**
     * The conversation as ChatGLM3's {@code chat} builds it: {@code [gMASK] sop}, each message as {@code
     * build_single_message(role, "", content)}, and {@code <|assistant|>} when {@code addGenerationPrompt} (for a
     * final user message this is {@code build_chat_input}).
     */
    @Override
    public long[] applyChatTemplate(List<Message> messages, boolean addGenerationPrompt) {
        if (!chatglm3) {
            Glm2Chat c = glm2Chat(messages);
            long[] prompt = encode(buildChatGlm2Prompt(c.query(), c.history()), true);
            return c.answer() == null ? prompt : concat(prompt, sp.encode(c.answer(), false));
        }
        List<long[]> parts = new ArrayList<>();
        parts.add(prefix());
        for (Message m : messages) {
            parts.add(singleMessage(m.role(), "", m.content()));
        }
        if (addGenerationPrompt) {
            parts.add(new long[] {specialTokenId("<|assistant|>")});
        }
        return concat(parts.toArray(new long[0][]));
    }

    /**
     * One conversation as ChatGLM3's fine-tuning recipe tokenises it (THUDM ChatGLM3 {@code finetune_demo}, {@code
     * process_batch}): {@code [gMASK] sop}, each message as {@code build_single_message(role, "", content)}, then the
     * eos; a token is scored when the token before it belongs to a message whose role is neither system nor user
     * (so the newline and content of each assistant message and the token right after it, the next role token or
     * the eos, are learned; the {@code <|assistant|>} token itself is not). Not truncated.
     */
    public TokenizedExample finetuneExample(List<Message> messages) {
        if (!chatglm3) {
            return glm2FinetuneExample(messages);
        }
        List<Long> ids = new ArrayList<>();
        List<Boolean> scored = new ArrayList<>();
        for (long id : prefix()) {
            ids.add(id);
            scored.add(false);
        }
        for (Message m : messages) {
            boolean learn = !m.role().equals("system") && !m.role().equals("user");
            for (long id : singleMessage(m.role(), "", m.content())) {
                ids.add(id);
                scored.add(learn);
            }
        }
        ids.add(eosTokenId());
        long[] in = new long[ids.size()];
        long[] labels = new long[ids.size()];
        for (int i = 0; i < in.length; i++) {
            in[i] = ids.get(i);
            labels[i] = i > 0 && scored.get(i - 1) ? in[i] : Batch.IGNORE_INDEX;
        }
        return new TokenizedExample(in, labels);
    }

    /**
     * As {@link #decode(long[])}: THUDM's tokenizer registers only its eos, unknown and padding tokens as special
     * tokens, and {@code decode} already drops those; its nine command tokens stay in the text.
     */
    @Override
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return decode(ids);
    }

    /**
     * The ids that end an answer in ChatGLM3's {@code chat}: the eos, {@code <|user|>} and {@code <|observation|>}
     * (the model opens the next turn instead of writing the eos).
     */
    @Override
    public List<Long> eosTokenIds() {
        if (!chatglm3) {
            return List.of(eosTokenId());
        }
        return List.of(eosTokenId(), specialTokenId("<|user|>"), specialTokenId("<|observation|>"));
    }

    /** A ChatGLM2 conversation: earlier (query, response) pairs, the last query, and its answer when given. */
    private record Glm2Chat(List<String[]> history, String query, String answer) {
    }

    private static Glm2Chat glm2Chat(List<Message> messages) {
        List<String[]> history = new ArrayList<>();
        String query = null;
        String answer = null;
        for (int i = 0; i < messages.size(); i++) {
            Message m = messages.get(i);
            boolean user = i % 2 == 0;
            if (!m.role().equals(user ? "user" : "assistant")) {
                throw new IllegalArgumentException("ChatGLM2 chats alternate user and assistant messages, starting "
                        + "with user (no system role); message " + i + " has role '" + m.role() + "'");
            }
            if (user) {
                if (query != null) {
                    history.add(new String[] {query, answer});
                }
                query = m.content();
                answer = null;
            } else {
                answer = m.content();
            }
        }
        if (query == null) {
            throw new IllegalArgumentException("a ChatGLM2 chat needs at least one user message");
        }
        return new Glm2Chat(history, query, answer);
    }

    /**
     * ChatGLM2's fine-tuning recipe (ChatGLM2-6B {@code ptuning/main.py}, {@code preprocess_function_train}): the
     * prompt {@code build_prompt(query, history)} encoded with {@code [gMASK] sop}, the answer without special tokens,
     * then the eos; only the answer and the eos are scored (labels of the padding id are ignored, as with {@code
     * ignore_pad_token_for_loss}).
     */
    private TokenizedExample glm2FinetuneExample(List<Message> messages) {
        Glm2Chat c = glm2Chat(messages);
        if (c.answer() == null) {
            throw new IllegalArgumentException("a ChatGLM2 training chat must end with an assistant message");
        }
        long[] a = encode(buildChatGlm2Prompt(c.query(), c.history()), true);
        long[] b = sp.encode(c.answer(), false);
        long eos = eosTokenId();
        long pad = padTokenId();
        long[] ids = concat(a, b, new long[] {eos});
        long[] labels = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            long l = i < a.length ? pad : ids[i];
            labels[i] = l == pad ? Batch.IGNORE_INDEX : l;
        }
        return new TokenizedExample(ids, labels);
    }

    private long[] singleMessage(String role, String metadata, String message) {
        if (!List.of("system", "user", "assistant", "observation").contains(role)) {
            throw new IllegalArgumentException("ChatGLM3 has no role '" + role
                    + "' (expected system, user, assistant or observation)");
        }
        return concat(new long[] {specialTokenId("<|" + role + "|>")}, sp.encode(metadata + "\n", false),
                sp.encode(message, false));
    }

    /**
     * ChatGLM2-6B's prompt: {@code "[Round i]\n\n问：q\n\n答：r\n\n"} for each earlier (query, response) pair, numbered
     * from 1, then {@code "[Round n]\n\n问：query\n\n答："}; encode it with {@code addSpecialTokens}.
     */
    public static String buildChatGlm2Prompt(String query, List<String[]> history) {
        StringBuilder p = new StringBuilder();
        for (int i = 0; i < history.size(); i++) {
            p.append("[Round ").append(i + 1).append("]\n\n问：").append(history.get(i)[0]).append("\n\n答：")
                    .append(history.get(i)[1]).append("\n\n");
        }
        return p.append("[Round ").append(history.size() + 1).append("]\n\n问：").append(query).append("\n\n答：")
                .toString();
    }

    private static long[] concat(long[]... parts) {
        int n = 0;
        for (long[] p : parts) {
            n += p.length;
        }
        long[] out = new long[n];
        int o = 0;
        for (long[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /** None: ChatGLM's tokenizer has no bos token (its prefix is {@code [gMASK] sop}). */
    @Override
    public Long bosTokenId() {
        return null;
    }

    @Override
    public Long eosTokenId() {
        return sp.eosTokenId();
    }

    /** The SentencePiece unknown id, as ChatGLMTokenizer's {@code pad_token_id}. */
    @Override
    public Long padTokenId() {
        return (long) sp.model().unkId();
    }

    /** SentencePiece pieces plus the nine special tokens ({@code n_words}). */
    @Override
    public int vocabSize() {
        return sp.vocabSize() + specialTokens().size();
    }

    @Override
    public String eosToken() {
        return "</s>";
    }

    @Override
    public void close() {
    }
}
