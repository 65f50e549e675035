package org.peft4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads a model folder's tokenizer, as transformers' {@code AutoTokenizer.from_pretrained} picks it: {@code
 * tokenizer.json} with {@link HfTokenizer}; otherwise a SentencePiece {@code tokenizer.model}, as
 * {@link ChatGLMTokenizer} when {@code tokenizer_config.json} names {@code ChatGLMTokenizer} (ChatGLM2/3 folders),
 * else as a plain {@link SentencePieceTokenizer}.
 */
public final class AutoTokenizer {
    private AutoTokenizer() {
    }

    /**
     * The tokenizer of a folder, or of a {@code *.json} (tokenizers) or other (SentencePiece model) file.
     * Close it with {@link #close(Tokenizer)}.
     *
     * @throws org.peft4j.FileAccessException when the folder has neither file
     */
    public static Tokenizer load(Path path) {
        return loadPath(path);
    }

    /**
     * The tokenizer of a local folder or file when {@code idOrPath} exists, otherwise of a Hugging Face repo id
     * ({@code "org/name"}, optionally {@code "org/name@revision"}) resolved through the local Hugging Face cache and
     * downloaded when allowed ({@link org.peft4j.hub.HfHub#resolveTokenizer}).
     *
     * @throws org.peft4j.hub.HubException when the id cannot be resolved (offline and not cached, not found, ...)
     */
    public static Tokenizer load(String idOrPath) {
        return loadPath(org.peft4j.hub.HfHub.resolveTokenizer(idOrPath));
    }

    private static Tokenizer loadPath(Path path) {
        boolean file = Files.isRegularFile(path);
        Path folder = file ? path.toAbsolutePath().getParent() : path;
        if (file ? path.getFileName().toString().endsWith(".json")
                : Files.isRegularFile(folder.resolve("tokenizer.json"))) {
            return HfTokenizer.load(path);
        }
        Path model = file ? path : folder.resolve("tokenizer.model");
        if (!Files.isRegularFile(model)) {
            throw org.peft4j.FileAccessException.of("read", model, new java.nio.file.NoSuchFileException(
                    model.toString(), null, "no tokenizer.json or tokenizer.model in " + folder));
        }
        Path config = folder.resolve("tokenizer_config.json");
        boolean chatglm = false;
        if (Files.isRegularFile(config)) {
            com.google.gson.JsonObject json = TokenizerFiles.readObject(config);
            chatglm = json.has("tokenizer_class") && json.get("tokenizer_class").isJsonPrimitive()
                    && json.get("tokenizer_class").getAsString().equals("ChatGLMTokenizer");
        }
        return chatglm ? new ChatGLMTokenizer(SentencePieceTokenizer.load(model), isChatGlm3(folder))
                : SentencePieceTokenizer.load(model);
    }

    /** Frees a tokenizer that holds native resources (an {@link HfTokenizer}); others need nothing. */
    /**
     * Whether a ChatGLM folder holds ChatGLM3's tokenizer: its remote code {@code tokenization_chatglm.py} names the
     * role tokens ({@code <|user|>}); ChatGLM2's does not. Without that file, ChatGLM3.
     */
    static boolean isChatGlm3(Path folder) {
        Path code = folder.resolve("tokenization_chatglm.py");
        if (!Files.isRegularFile(code)) {
            return true;
        }
        try {
            return Files.readString(code, java.nio.charset.StandardCharsets.UTF_8).contains("<|user|>");
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", code, e);
        }
    }

    public static void close(Tokenizer tokenizer) {
        if (tokenizer instanceof HfTokenizer hf) {
            hf.close();
        }
    }
}
