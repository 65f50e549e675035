package org.peft4j.data;

import java.util.List;

/** A training record: an alpaca instruction or a chat. */
public sealed interface InstructionRecord permits InstructionRecord.Alpaca, InstructionRecord.Chat {
    /**
     * An alpaca record.
     *
     * @param instruction the task
     * @param input optional context, empty when absent
     * @param output the response to learn
     */
    record Alpaca(String instruction, String input, String output) implements InstructionRecord {}

    /**
     * A chat record.
     *
     * @param messages the turns in order
     */
    record Chat(List<Message> messages) implements InstructionRecord {
        /** Copies the list. */
        public Chat {
            messages = List.copyOf(messages);
        }
    }
}
