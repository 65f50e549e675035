package org.peft4j.safetensors;

import org.peft4j.testutil.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class SafeTensorsWriterTest {
    @TempDir
    Path tmp;

    @Test
    void bytesIdenticalToPythonSafetensorsWithMetadata() throws IOException {
        Path out = tmp.resolve("reference.safetensors");
        SafeTensorsWriter.write(out, ReferenceTensors.build(), Map.of("format", "pt"));
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(Fixtures.safetensors("reference.safetensors")));
    }

    @Test
    void bytesIdenticalToPythonSafetensorsWithoutMetadata() throws IOException {
        Path out = tmp.resolve("reference_nometa.safetensors");
        SafeTensorsWriter.write(out, ReferenceTensors.build());
        assertThat(Files.readAllBytes(out))
                .isEqualTo(Files.readAllBytes(Fixtures.safetensors("reference_nometa.safetensors")));
    }

    @Test
    void outputDoesNotDependOnMapOrder() throws IOException {
        Map<String, Tensor> tensors = ReferenceTensors.build();
        List<String> names = new ArrayList<>(tensors.keySet());
        byte[] first = null;
        Random random = new Random(7);
        for (int round = 0; round < 5; round++) {
            Collections.shuffle(names, random);
            Map<String, Tensor> shuffled = new LinkedHashMap<>();
            names.forEach(n -> shuffled.put(n, tensors.get(n)));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put(round % 2 == 0 ? "b" : "a", "1");
            meta.put(round % 2 == 0 ? "a" : "b", "1");
            Path out = tmp.resolve("shuffled" + round + ".safetensors");
            SafeTensorsWriter.write(out, shuffled, meta);
            byte[] bytes = Files.readAllBytes(out);
            if (first == null) {
                first = bytes;
            }
            assertThat(bytes).isEqualTo(first);
        }
    }

    @Test
    void headerLayout() {
        Map<String, Tensor> tensors = new TreeMap<>();
        tensors.put("a", Tensor.of(new int[] {1}, 1));
        tensors.put("b", Tensor.of(new float[] {1f}, 1));
        byte[] header = SafeTensorsWriter.header(tensors, Map.of("k", "v\"\n"));
        long n = ByteBuffer.wrap(header).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(n).isEqualTo(header.length - 8);
        assertThat(n % 8).isZero();
        String json = new String(header, 8, header.length - 8, StandardCharsets.UTF_8);
        // F32 sorts before I32 although both are 4 bytes wide, as in the Python library
        assertThat(json.stripTrailing()).isEqualTo("{\"__metadata__\":{\"k\":\"v\\\"\\n\"},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]}}");
        assertThat(json.substring(json.stripTrailing().length())).matches(" *");

        byte[] padded = SafeTensorsWriter.header(Map.of("x", Tensor.scalar(0f)), null);
        String h = new String(padded, 8, padded.length - 8, StandardCharsets.UTF_8);
        assertThat(h).isEqualTo("{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}   ");
    }

    @Test
    void roundTripsEveryDtypeAndCopiesFromMappedTensors() throws IOException {
        Path out = tmp.resolve("copy.safetensors");
        try (SafeTensors src = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"))) {
            Map<String, Tensor> all = src.getAll();
            SafeTensorsWriter.write(out, all, src.metadata());
            try (SafeTensors back = SafeTensors.open(out)) {
                assertThat(back.metadata()).containsExactlyInAnyOrderEntriesOf(src.metadata());
                assertThat(back.keys()).containsExactlyElementsOf(src.keys());
                for (String k : src.keys()) {
                    assertThat(back.get(k).contentEquals(all.get(k))).as(k).isTrue();
                }
            }
        }
        // the Python file has its metadata in hash order; everything after the header is identical
        try (SafeTensors a = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"));
                SafeTensors b = SafeTensors.open(out)) {
            assertThat(a.headerLength()).isEqualTo(b.headerLength());
            byte[] pa = Files.readAllBytes(a.file());
            byte[] pb = Files.readAllBytes(b.file());
            assertThat(java.util.Arrays.copyOfRange(pb, (int) b.dataStart(), pb.length))
                    .isEqualTo(java.util.Arrays.copyOfRange(pa, (int) a.dataStart(), pa.length));
        }
    }

    @Test
    void emptyMetadataAndNoTensors() throws IOException {
        Path out = tmp.resolve("empty.safetensors");
        SafeTensorsWriter.write(out, Map.of(), Map.of());
        try (SafeTensors st = SafeTensors.open(out)) {
            assertThat(st.keys()).isEmpty();
            assertThat(st.metadata()).isEmpty();
        }
        byte[] bytes = Files.readAllBytes(out);
        assertThat(bytes).hasSize(8 + 24);
        assertThat(new String(bytes, 8, 24, StandardCharsets.UTF_8)).isEqualTo("{\"__metadata__\":{}}     ");
    }

    @Test
    void rejectsReservedAndInvalidNames() {
        Path out = tmp.resolve("x.safetensors");
        Tensor t = Tensor.scalar(1f);
        assertThatThrownBy(() -> SafeTensorsWriter.write(out, Map.of("__metadata__", t)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("__metadata__");
        assertThatThrownBy(() -> SafeTensorsWriter.write(out, Map.of("bad\uD800", t)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("surrogate");
        assertThat(out).doesNotExist();
    }

    @Test
    void failedWriteLeavesOldFileAndNoTempFiles() throws IOException {
        Path out = tmp.resolve("model.safetensors");
        SafeTensorsWriter.write(out, Map.of("w", Tensor.of(new float[] {1f, 2f}, 2)));
        byte[] before = Files.readAllBytes(out);

        assertThatThrownBy(() -> SafeTensorsWriter.writeAtomically(out, channel -> {
            channel.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}));
            throw new IOException("disk full (simulated)");
        })).isInstanceOf(IOException.class).hasMessageContaining("simulated");
        assertThat(Files.readAllBytes(out)).isEqualTo(before);
        assertThat(listing()).containsExactly("model.safetensors");

        assertThatThrownBy(() -> SafeTensorsWriter.writeAtomically(out, channel -> {
            channel.write(ByteBuffer.wrap(new byte[] {1}));
            throw new IllegalStateException("bug (simulated)");
        })).isInstanceOf(IllegalStateException.class);
        assertThat(Files.readAllBytes(out)).isEqualTo(before);
        assertThat(listing()).containsExactly("model.safetensors");

        try (SafeTensors st = SafeTensors.open(out)) {
            assertThat(st.get("w").toFloatArray()).containsExactly(1f, 2f);
        }
    }

    @Test
    void failedMoveOverANonEmptyDirectoryLeavesItAndNoTempFiles() throws IOException {
        Path target = tmp.resolve("occupied.safetensors");
        Files.createDirectory(target);
        Files.writeString(target.resolve("keep.txt"), "keep");
        assertThatThrownBy(() -> SafeTensorsWriter.write(target, Map.of("w", Tensor.scalar(1f))))
                .isInstanceOf(org.peft4j.FileAccessException.class).hasMessageStartingWith("cannot ")
                .hasMessageContaining(target.toString());
        assertThat(Files.readString(target.resolve("keep.txt"))).isEqualTo("keep");
        assertThat(listing()).containsExactly("occupied.safetensors");
    }

    @Test
    void replacesAnExistingFile() throws IOException {
        Path out = tmp.resolve("m.safetensors");
        SafeTensorsWriter.write(out, Map.of("w", Tensor.scalar(1f)));
        SafeTensorsWriter.write(out, Map.of("v", Tensor.of(new long[] {5}, 1)));
        try (SafeTensors st = SafeTensors.open(out)) {
            assertThat(st.keys()).containsExactly("v");
            assertThat(st.get("v").dtype()).isEqualTo(DType.I64);
        }
        assertThat(listing()).containsExactly("m.safetensors");
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(java.util.stream.Collectors.toList());
        }
    }
}
