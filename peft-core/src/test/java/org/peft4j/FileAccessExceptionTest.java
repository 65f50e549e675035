package org.peft4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.HfTokenizer;
import org.peft4j.data.InstructionData;
import org.peft4j.models.ModelConfig;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.util.AtomicFiles;

/**
 * Issue 15: a file that cannot be read or written at all is a {@link FileAccessException} (unchecked, a
 * {@link Peft4jException}) whose message names the file and what was being done, whose {@code file()} is that file
 * and whose cause is the file system's own {@link java.io.IOException}; a file with bad content stays an
 * {@link InvalidInputException}. Expected texts are written out here, not taken from the code.
 */
class FileAccessExceptionTest {
    @TempDir
    Path tmp;

    @Test
    void aMissingWeightsFileIsNamedWithTheOperation() {
        Path absent = tmp.resolve("absent.safetensors");
        assertThatThrownBy(() -> SafeTensors.open(absent)).isInstanceOf(FileAccessException.class)
                .isInstanceOf(Peft4jException.class)
                .hasMessage("cannot read " + absent + ": no such file or directory")
                .hasCauseInstanceOf(NoSuchFileException.class)
                .satisfies(e -> assertThat(((FileAccessException) e).file()).isEqualTo(absent));
    }

    @Test
    void aMissingConfigKeepsItsExplanation() {
        Path config = tmp.resolve("config.json");
        assertThatThrownBy(() -> ModelConfig.load(config)).isInstanceOf(FileAccessException.class)
                .hasMessage("cannot read " + config + ": no config.json: expected a Hugging Face model folder");
        Path adapter = tmp.resolve("adapter_config.json");
        assertThatThrownBy(() -> PeftConfigs.fromPretrained(tmp)).isInstanceOf(FileAccessException.class)
                .hasMessage("cannot read " + adapter + ": no adapter_config.json: expected a folder written by "
                        + "save_pretrained")
                .satisfies(e -> assertThat(((FileAccessException) e).file()).isEqualTo(adapter));
    }

    @Test
    void aMissingTokenizerOrDataFileIsAFileAccessException() {
        assertThatThrownBy(() -> HfTokenizer.load(tmp)).isInstanceOf(FileAccessException.class)
                .hasMessage("cannot read " + tmp.resolve("tokenizer.json") + ": no tokenizer.json in " + tmp);
        Path data = tmp.resolve("train.jsonl");
        assertThatThrownBy(() -> InstructionData.load(data)).isInstanceOf(FileAccessException.class)
                .hasMessage("cannot read " + data + ": no such file or directory");
    }

    @Test
    void aWriteIntoAFolderThatIsAFileNamesTheTarget() throws Exception {
        Path notAFolder = Files.writeString(tmp.resolve("plain.txt"), "x");
        Path target = notAFolder.resolve("model.safetensors");
        assertThatThrownBy(() -> SafeTensorsWriter.write(target, Map.of("w", Tensor.scalar(1f))))
                .isInstanceOf(FileAccessException.class).hasMessageStartingWith("cannot write " + target + ": ")
                .satisfies(e -> assertThat(((FileAccessException) e).file()).isEqualTo(target));
        assertThatThrownBy(() -> AtomicFiles.writeString(target, "{}"))
                .isInstanceOf(FileAccessException.class).hasMessageStartingWith("cannot write " + target + ": ");
    }

    @Test
    void badContentIsNotAFileAccessException() throws Exception {
        Path bad = Files.writeString(tmp.resolve("config.json"), "{\"a\": 1,}");
        assertThatThrownBy(() -> ModelConfig.load(bad)).isInstanceOf(ConfigException.class)
                .isNotInstanceOf(FileAccessException.class)
                .hasMessageStartingWith(bad + ": malformed JSON: ").hasMessageContaining("line 1 column 10")
                .satisfies(e -> assertThat(((ConfigException) e).file()).isEqualTo(bad));
        Path shortFile = Files.write(tmp.resolve("short.safetensors"), new byte[] {8, 0, 0});
        assertThatThrownBy(() -> SafeTensors.open(shortFile))
                .isInstanceOf(org.peft4j.safetensors.SafeTensorsException.class)
                .hasMessage(shortFile + ": file is 3 bytes, shorter than the 8-byte header length prefix");
    }
}
