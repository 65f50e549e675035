package org.peft4j.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed header is rejected with a message naming the file, the tensor and the field. */
class SafeTensorsValidationTest {
    @TempDir
    Path tmp;

    private int counter;

    /** A file with the given header bytes (unpadded) followed by {@code dataBytes} zero bytes. */
    private Path file(byte[] header, long declaredLength, int dataBytes) throws IOException {
        Path p = tmp.resolve("case" + (counter++) + ".safetensors");
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        Files.write(p, b.array());
        return p;
    }

    private Path file(String json, int dataBytes) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        return file(h, h.length, dataBytes);
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> rejects(Path p, String... fragments) {
        AbstractThrowableAssert<?, ? extends Throwable> a = assertThatThrownBy(() -> SafeTensors.open(p).close())
                .isInstanceOf(SafeTensorsException.class)
                .hasMessageStartingWith(p.toString() + ": ");
        for (String f : fragments) {
            a.hasMessageContaining(f);
        }
        return a;
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> rejectsTensor(Path p, String tensor,
            String... fragments) {
        AbstractThrowableAssert<?, ? extends Throwable> a = rejects(p, fragments)
                .hasMessageContaining("tensor '" + tensor + "'");
        a.extracting(e -> ((SafeTensorsException) e).tensor()).isEqualTo(tensor);
        a.extracting(e -> ((SafeTensorsException) e).file()).isEqualTo(p);
        return a;
    }

    @Test
    void acceptsAValidMinimalFileWithPadding() throws IOException {
        Path p = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   \n\t ", 8);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertThat(st.get("w").toFloatArray()).containsExactly(0f, 0f);
        }
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        Path p = tmp.resolve("short.safetensors");
        Files.write(p, new byte[] {1, 2, 3, 4, 5});
        rejects(p, "5 bytes", "shorter than the 8-byte header length prefix");
        Path empty = tmp.resolve("empty.safetensors");
        Files.write(empty, new byte[0]);
        rejects(empty, "0 bytes");
    }

    @Test
    void directoryOrMissingFile() throws IOException {
        rejects(tmp, "is a directory");
        assertThatThrownBy(() -> SafeTensors.open(tmp.resolve("absent.safetensors")))
                .isInstanceOf(org.peft4j.FileAccessException.class)
                .hasMessage("cannot read " + tmp.resolve("absent.safetensors") + ": no such file or directory")
                .hasCauseInstanceOf(java.nio.file.NoSuchFileException.class);
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        rejects(file("{}".getBytes(StandardCharsets.US_ASCII), 1000, 0), "header length 1000",
                "extends beyond the end of the file", "2 bytes follow");
    }

    @Test
    void headerLengthOverTheLimit() throws IOException {
        rejects(file(new byte[0], 100_000_001L, 0), "header length 100000001", "exceeds the limit of 100000000");
        rejects(file(new byte[0], -1L, 0), "header length 18446744073709551615", "exceeds the limit");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] h = "{\"w?\":{}}".getBytes(StandardCharsets.US_ASCII);
        h[3] = (byte) 0xFF;
        rejects(file(h, h.length, 0), "header is not valid UTF-8", "header byte 3", "file offset 11");
        // an overlong encoding of '/' and an encoded surrogate are not UTF-8 either
        rejects(file(new byte[] {'{', '"', (byte) 0xC0, (byte) 0xAF, '"', ':', '1', '}'}, 8, 0), "not valid UTF-8");
        rejects(file(new byte[] {'{', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', ':', '1', '}'}, 9, 0),
                "not valid UTF-8");
    }

    @Test
    void malformedJson() throws IOException {
        rejects(file("{\"w\":", 0), "invalid header JSON");
        rejects(file("{} x", 0), "invalid header JSON");
        rejects(file("{\"w\":{\"dtype\":'F32'}}", 0), "invalid header JSON");
        rejects(file("", 0), "invalid header JSON");
        rejects(file("{\"__metadata__\":{\"k\":\"a\u0001b\"}}", 0), "invalid header JSON");
        // NUL padding is not JSON whitespace (the Python library rejects it too)
        rejects(file("{}\0\0\0\0\0\0", 0), "invalid header JSON");
        rejects(file("[".repeat(5000), 0), "invalid header JSON");
    }

    @Test
    void headerNotAnObject() throws IOException {
        rejects(file("[1,2]", 0), "header must be a JSON object", "[1,2]");
        rejects(file("\"x\"", 0), "header must be a JSON object");
        rejects(file("42", 0), "header must be a JSON object");
    }

    @Test
    void tensorEntryNotAnObject() throws IOException {
        rejectsTensor(file("{\"w\":5}", 0), "w", "expected an object with fields dtype, shape and data_offsets");
    }

    @Test
    void missingFields() throws IOException {
        rejectsTensor(file("{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4), "w", "field 'dtype' is missing");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "w", "field 'shape' is missing");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[]}}", 4), "w", "field 'data_offsets' is missing");
    }

    @Test
    void unknownDtype() throws IOException {
        rejectsTensor(file("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "w",
                "field 'dtype'", "unknown dtype 'F8_E4M3'", "expected one of F64");
        rejectsTensor(file("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "w",
                "field 'dtype': expected a string, got 4");
    }

    @Test
    void badShapes() throws IOException {
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8), "w",
                "field 'shape'", "expected an array of non-negative integers", "[2,-1]", "dimension 1 is negative");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8), "w",
                "field 'shape'", "dimension 0 is not an integer: 2.0");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4), "w",
                "field 'shape'", "not an integer");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8), "w",
                "field 'shape'", "not a number");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8), "w",
                "field 'shape'", "got 2");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}",
                8), "w", "field 'shape'", "too large");
    }

    @Test
    void badDataOffsets() throws IOException {
        String prefix = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":";
        rejectsTensor(file(prefix + "[0]}}", 4), "w", "field 'data_offsets'",
                "expected two non-negative integers [begin, end], got [0]");
        rejectsTensor(file(prefix + "[0,4,8]}}", 8), "w", "field 'data_offsets'", "two non-negative integers");
        rejectsTensor(file(prefix + "\"0,4\"}}", 4), "w", "field 'data_offsets'", "two non-negative integers");
        rejectsTensor(file(prefix + "[0,4.5]}}", 4), "w", "field 'data_offsets'", "end is not an integer");
        rejectsTensor(file(prefix + "[-4,0]}}", 4), "w", "field 'data_offsets'", "begin is negative");
        rejectsTensor(file(prefix + "[8,4]}}", 8), "w", "field 'data_offsets'", "end 4 is before begin 8");
    }

    @Test
    void byteLengthMismatch() throws IOException {
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12), "w",
                "shape/byte-length mismatch", "[2, 2] of F32 needs 16 bytes", "span 12");
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}",
                16), "w", "shape/byte-length mismatch");
    }

    @Test
    void offsetsBeyondTheDataSection() throws IOException {
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "w",
                "field 'data_offsets'", "[0, 16] extends beyond the data section of 8 bytes");
    }

    @Test
    void overlappingTensors() throws IOException {
        rejectsTensor(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "b",
                "data_offsets [4, 12] overlap tensor 'a' [0, 8]");
        rejectsTensor(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "b", "overlap tensor 'a'");
    }

    @Test
    void holesInTheDataSection() throws IOException {
        rejectsTensor(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20), "b",
                "leave a hole", "bytes [8, 12) belong to no tensor");
        rejectsTensor(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "a",
                "bytes [0, 4) belong to no tensor");
        rejects(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12),
                "data section is 12 bytes", "bytes [8, 12) belong to no tensor", "must end where the last tensor ends");
        rejects(file("{}", 3), "data section is 3 bytes");
    }

    @Test
    void duplicateKeys() throws IOException {
        rejectsTensor(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "w", "duplicate key 'w'");
        rejects(file("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0), "duplicate key 'k'", "$.__metadata__");
        rejects(file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                "duplicate key 'dtype'", "$.w");
        rejects(file("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "duplicate key '__metadata__'");
    }

    @Test
    void metadataValuesMustBeStrings() throws IOException {
        rejects(file("{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", 0), "field '__metadata__'",
                "value of key 'n' must be a string, got 1");
        rejects(file("{\"__metadata__\":{\"n\":null}}", 0), "value of key 'n' must be a string, got null");
        rejects(file("{\"__metadata__\":\"pt\"}", 0), "field '__metadata__'", "expected an object");
    }

    @Test
    void ignoresUnknownFieldsLikePython() throws IOException {
        Path p = file("{\"w\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":[1]}}", 1);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertThat(st.get("w").getLong(0)).isZero();
        }
    }
}
