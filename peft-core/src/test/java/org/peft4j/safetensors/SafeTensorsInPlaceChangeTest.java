package org.peft4j.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.Tensor;

/**
 * The mmap contract: files are replaced by rename (open files and mapped tensors keep the old contents); a file
 * truncated in place is refused before anything is mapped from it, instead of a SIGBUS on first access.
 */
class SafeTensorsInPlaceChangeTest {

    private static Map<String, Tensor> tensors(float v) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a", Tensor.of(new float[] {v, v, v, v}, 4));
        m.put("b", Tensor.of(new float[4096], 4096)); // spans pages past the truncation point
        return m;
    }

    @Test
    void aFileTruncatedInPlaceIsAnExceptionNotASigbus(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("model.safetensors");
        SafeTensorsWriter.write(f, tensors(1f));
        try (SafeTensors st = SafeTensors.open(f)) {
            st.checkUnchanged();
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.truncate(200); // what `truncate -s` or an in-place rewrite by another program does
            }
            assertThatThrownBy(() -> st.get("b")).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining(f.toString()).hasMessageContaining("'b'")
                    .hasMessageContaining("changed size from 16528 to 200 bytes");
            assertThatThrownBy(st::checkUnchanged).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining("rewritten in place");
        }
    }

    @Test
    void replacingByRenameKeepsOpenFilesAndMappedTensorsOnTheOldContents(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("model.safetensors");
        SafeTensorsWriter.write(f, tensors(1f));
        try (SafeTensors st = SafeTensors.open(f)) {
            Tensor a = st.get("a");
            SafeTensorsWriter.write(f, tensors(2f));
            assertThat(a.toFloatArray()).containsExactly(1f, 1f, 1f, 1f);
            st.checkUnchanged();
            assertThat(st.get("a").toFloatArray()).containsExactly(1f, 1f, 1f, 1f);
        }
        try (SafeTensors st = SafeTensors.open(f)) {
            assertThat(st.get("a").toFloatArray()).containsExactly(2f, 2f, 2f, 2f);
        }
    }
}
