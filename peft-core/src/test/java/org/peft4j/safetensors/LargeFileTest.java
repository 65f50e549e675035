package org.peft4j.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.Tensor;

/** A sparse file of about 3 GiB: tensors beyond 2 GiB are mapped lazily without touching the rest. */
class LargeFileTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(30)
    void readsATensorLocatedBeyondTwoGiB() throws IOException {
        long padding = 3_000_000_000L; // one U8 tensor of this many bytes, never read
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"padding\":{\"dtype\":\"U8\",\"shape\":[" + padding + "],\"data_offsets\":[0," + padding + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" + padding + "," + (padding + 16)
                + "]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        int n = (header.length + 7) / 8 * 8;
        long dataStart = 8 + n;
        Path file = tmp.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            ByteBuffer head = ByteBuffer.allocate(8 + n).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(n).put(header);
            while (head.hasRemaining()) {
                head.put((byte) ' ');
            }
            raf.write(head.array());
            raf.setLength(dataStart + padding + 16); // sparse: no blocks allocated for the hole
            raf.seek(dataStart + padding);
            ByteBuffer tail = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            tail.putFloat(1.5f).putFloat(-2f).putFloat(1e-3f).putFloat(Float.MAX_VALUE);
            raf.write(tail.array());
        }
        assertThat(Files.size(file)).isGreaterThan(1L << 31);

        try (SafeTensors st = SafeTensors.open(file)) {
            assertThat(st.keys()).containsExactly("padding", "tail");
            TensorInfo info = st.info("tail");
            assertThat(info.fileOffset()).isEqualTo(dataStart + padding).isGreaterThan(Integer.MAX_VALUE);
            Tensor tail = st.get("tail");
            assertThat(tail.shape()).containsExactly(2, 2);
            assertThat(tail.toFloatArray()).containsExactly(1.5f, -2f, 1e-3f, Float.MAX_VALUE);

            assertThat(st.info("padding").byteLength()).isEqualTo(padding);
            assertThatThrownBy(() -> st.get("padding")).isInstanceOf(SafeTensorsException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("tensor 'padding'")
                    .hasMessageContaining("3000000000 bytes")
                    .hasMessageContaining("smaller than 2 GiB");
        }
        BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class);
        assertThat(attrs.size()).isEqualTo(dataStart + padding + 16);
    }
}
