package org.peft4j.data;

/**
 * One turn of a chat.
 *
 * @param role "system", "user" or "assistant"
 * @param content the text of the turn
 */
public record Message(String role, String content) {
    /** Creates a system turn. */
    public static Message system(String content) {
        return new Message("system", content);
    }

    /** Creates a user turn. */
    public static Message user(String content) {
        return new Message("user", content);
    }

    /** Creates an assistant turn. */
    public static Message assistant(String content) {
        return new Message("assistant", content);
    }

    /** True for an assistant turn (the turns counted by the loss). */
    public boolean isAssistant() {
        return "assistant".equals(role);
    }
}
