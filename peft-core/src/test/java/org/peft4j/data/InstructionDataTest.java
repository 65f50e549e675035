package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstructionDataTest {
    @TempDir
    Path dir;

    private Path write(String name, String text) throws Exception {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void loadsAlpacaJsonAndChatJsonl() throws Exception {
        Path json = write("a.json", "[{\"instruction\":\"i\",\"output\":\"o\"},"
                + "{\"instruction\":\"i2\",\"input\":\"x\",\"output\":\"o2\"}]");
        assertThat(InstructionData.loadAlpaca(json)).containsExactly(
                new InstructionRecord.Alpaca("i", "", "o"), new InstructionRecord.Alpaca("i2", "x", "o2"));
        Path jsonl = write("c.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
                + "{\"role\":\"assistant\",\"content\":\"a\"}]}\n\n");
        assertThat(InstructionData.loadChat(jsonl)).containsExactly(new InstructionRecord.Chat(
                List.of(Message.user("q"), Message.assistant("a"))));
    }

    @Test
    void errorsNameFileLineAndField() throws Exception {
        Path jsonl = write("bad.jsonl", "{\"instruction\":\"i\",\"output\":\"o\"}\n{\"instruction\":\"i\"}\n");
        assertThatThrownBy(() -> InstructionData.load(jsonl)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining("bad.jsonl:2").hasMessageContaining("missing field 'output'");
        Path json = write("bad.json", "[{\"instruction\":\"i\",\"output\":\"o\"},{\"instruction\":3,\"output\":\"o\"}]");
        assertThatThrownBy(() -> InstructionData.load(json)).isInstanceOf(DataFormatException.class)
                .hasMessageContaining("bad.json").hasMessageContaining("index 1")
                .hasMessageContaining("field 'instruction' must be a string, found a number");
        Path role = write("role.jsonl", "{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}");
        assertThatThrownBy(() -> InstructionData.load(role)).hasMessageContaining("role.jsonl:1")
                .hasMessageContaining("messages[0]").hasMessageContaining("'role' is 'bot'");
        Path content = write("content.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":[1]}]}");
        assertThatThrownBy(() -> InstructionData.load(content))
                .hasMessageContaining("field 'content' must be a string, found an array");
        Path broken = write("broken.jsonl", "{\"instruction\":");
        assertThatThrownBy(() -> InstructionData.load(broken)).hasMessageContaining("broken.jsonl:1")
                .hasMessageContaining("invalid JSON");
        Path mixed = write("mixed.jsonl", "{\"instruction\":\"i\",\"output\":\"o\"}");
        assertThatThrownBy(() -> InstructionData.loadChat(mixed)).hasMessageContaining("not in the chat");
    }
}
