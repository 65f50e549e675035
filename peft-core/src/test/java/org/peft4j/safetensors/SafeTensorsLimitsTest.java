package org.peft4j.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile headers and indexes are rejected within bounded memory and time, with a {@link SafeTensorsException} that
 * names the file and the limit; files just inside the limits still load.
 *
 * <p>Timing bounds: each case does at most a few MB of linear work (milliseconds to a few hundred ms, even on a
 * loaded machine), while the quadratic behaviour they guard against takes tens of seconds on the same inputs. The
 * bounds sit an order of magnitude above the linear cost and an order below the quadratic one, so they neither flake
 * on a busy CI machine nor let a regression through.
 */
class SafeTensorsLimitsTest {
    /** Generous bound for work that is linear in a few MB of header. */
    private static final long QUICK_MS = 2_000;
    /** Generous bound for building and parsing the larger (tens of MB) files below. */
    private static final long LINEAR_MS = 10_000;

    @TempDir
    Path tmp;

    private int counter;

    private Path file(String json, long declaredLength, int dataBytes) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        Path p = tmp.resolve("case" + (counter++) + ".safetensors");
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(h);
        Files.write(p, b.array());
        return p;
    }

    private Path file(String json, int dataBytes) throws IOException {
        return file(json, json.getBytes(StandardCharsets.UTF_8).length, dataBytes);
    }

    /** Runs {@code open} and asserts it throws a SafeTensorsException for {@code p} within {@code maxMs}. */
    private static AbstractThrowableAssert<?, ? extends Throwable> rejectsWithin(long maxMs, Path p,
            ThrowingCallable open, String... fragments) {
        long t0 = System.nanoTime();
        Throwable thrown = null;
        try {
            open.call();
        } catch (Throwable t) {
            thrown = t;
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms).as("time to reject %s", p.getFileName()).isLessThan(maxMs);
        AbstractThrowableAssert<?, ? extends Throwable> a = assertThat(thrown)
                .isInstanceOf(SafeTensorsException.class)
                .hasMessageStartingWith(p.toString() + ": ");
        for (String f : fragments) {
            a.hasMessageContaining(f);
        }
        return a;
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> rejects(long maxMs, Path p, String... fragments) {
        return rejectsWithin(maxMs, p, () -> SafeTensors.open(p).close(), fragments);
    }

    // ---- header length, read as an unsigned 64-bit integer (the Rust crate: u64, then n > MAX_HEADER_SIZE) ----

    @Test
    void headerLengthIsUnsigned() throws IOException {
        // 2^64 - 1 reads as -1 and 2^63 as Long.MIN_VALUE when taken as signed: both must hit the size limit
        rejects(QUICK_MS, file("{}", -1L, 0), "header length 18446744073709551615",
                "exceeds the limit of 100000000 bytes");
        rejects(QUICK_MS, file("{}", Long.MIN_VALUE, 0), "header length 9223372036854775808",
                "exceeds the limit of 100000000 bytes");
        rejects(QUICK_MS, file("{}", Long.MAX_VALUE, 0), "header length 9223372036854775807",
                "exceeds the limit of 100000000 bytes");
        rejects(QUICK_MS, file("{}", 0xFFFF_FFFFL + 8, 0), "header length 4294967303", "exceeds the limit");
    }

    @Test
    void headerLengthBeyondTheFileSize() throws IOException {
        // within the limit but past the end: exactly the limit, and one byte more than the file holds
        rejects(QUICK_MS, file("{}", SafeTensors.MAX_HEADER_LENGTH, 0), "header length 100000000",
                "extends beyond the end of the file", "2 bytes follow");
        String json = "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        int n = json.length();
        rejects(QUICK_MS, file(json, n + 3, 2), "header length " + (n + 3), "extends beyond the end of the file",
                (n + 2) + " bytes follow");
        // the header swallowing the data section leaves trailing bytes that are not JSON
        rejects(QUICK_MS, file(json, n + 2, 2), "invalid header JSON");
        // a header that ends early leaves its tail to the data section, which then no longer adds up
        rejects(QUICK_MS, file(json, n - 1, 2), "invalid header JSON");
        // just right
        try (SafeTensors st = SafeTensors.open(file(json, n, 2))) {
            assertThat(st.keys()).containsExactly("w");
        }
    }

    // ---- key length ----

    @Test
    void millionCharacterKeyIsRejectedQuickly() throws IOException {
        String key = "k".repeat(1_000_000);
        Path p = file("{\"" + key + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        rejects(QUICK_MS, p, "a key of 1000000 characters", "exceeds the limit of 65536 characters",
                "SafeTensors.MAX_KEY_LENGTH")
                .extracting(Throwable::getMessage).satisfies(m -> assertThat((String) m).hasSizeLessThan(1_000));
    }

    @Test
    void keyAtTheLimitLoads() throws IOException {
        String key = "k".repeat(SafeTensors.MAX_KEY_LENGTH);
        try (SafeTensors st = SafeTensors.open(
                file("{\"" + key + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8))) {
            assertThat(st.keys()).containsExactly(key);
        }
        rejects(QUICK_MS, file("{\"" + key + "x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "a key of 65537 characters");
    }

    /**
     * Long keys on a deep path above many values: rendering each value's path eagerly copies the path (16 keys of
     * 64 Ki characters) once per value (100k), about 10^11 characters, tens of seconds. Unknown fields of a tensor
     * entry are ignored, so this 1.2 MB file is valid and must load in linear time.
     */
    @Test
    void longKeysAboveManyValuesParseInLinearTime() throws IOException {
        String key = "k".repeat(SafeTensors.MAX_KEY_LENGTH);
        StringBuilder extra = new StringBuilder();
        int depth = 16;
        for (int i = 0; i < depth; i++) {
            extra.append("{\"").append(key).append("\":");
        }
        extra.append('[').append("1,".repeat(99_999)).append("1]");
        extra.append("}".repeat(depth));
        Path p = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":" + extra + "}}", 8);
        long t0 = System.nanoTime();
        try (SafeTensors st = SafeTensors.open(p)) {
            assertThat(st.keys()).containsExactly("w");
        }
        assertThat((System.nanoTime() - t0) / 1_000_000).as("ms to open").isLessThan(QUICK_MS);
    }

    // ---- tensor count ----

    /** A header of {@code count} zero-size tensors (and metadata), streamed to disk. */
    private Path zeroSizeTensors(int count) throws IOException {
        Path json = tmp.resolve("header" + counter + ".json");
        try (BufferedWriter w = Files.newBufferedWriter(json, StandardCharsets.US_ASCII)) {
            w.write("{\"__metadata__\":{\"format\":\"pt\"}");
            for (int i = 0; i < count; i++) {
                w.write(",\"t" + i + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
            }
            w.write('}');
        }
        long n = Files.size(json);
        Path p = tmp.resolve("case" + (counter++) + ".safetensors");
        try (OutputStream out = Files.newOutputStream(p)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array());
            Files.copy(json, out);
        }
        Files.delete(json);
        return p;
    }

    @Test
    void millionZeroSizeTensorsAreRejectedByTheCountLimit() throws IOException {
        Path p = zeroSizeTensors(1_000_000);
        assertThat(Files.size(p)).isGreaterThan(50_000_000L);
        rejects(LINEAR_MS, p, "header declares more than 100000 tensors", "SafeTensors.MAX_TENSORS");
    }

    @Test
    void tensorCountAtTheLimitLoadsAndOneMoreIsRejected() throws IOException {
        try (SafeTensors st = SafeTensors.open(zeroSizeTensors(SafeTensors.MAX_TENSORS))) {
            assertThat(st.keys()).hasSize(SafeTensors.MAX_TENSORS);
            assertThat(st.info("t99999").byteLength()).isZero();
            assertThat(st.metadata()).containsEntry("format", "pt");
        }
        // with __metadata__ this is one member more than the parser allows: rejected while parsing
        rejects(LINEAR_MS, zeroSizeTensors(SafeTensors.MAX_TENSORS + 1), "header declares more than 100000 tensors",
                "SafeTensors.MAX_TENSORS");
        // without it the parser admits MAX_TENSORS + 1 members and the tensor count check catches it
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i <= SafeTensors.MAX_TENSORS; i++) {
            sb.append(i == 0 ? "" : ",").append("\"t").append(i)
                    .append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        }
        rejects(LINEAR_MS, file(sb.append('}').toString(), 0), "header declares 100001 tensors",
                "more than the limit of 100000", "SafeTensors.MAX_TENSORS");
    }

    @Test
    void hugeArrayIsRejectedByTheMemberLimit() throws IOException {
        Path p = file("{\"w\":{\"dtype\":\"F32\",\"shape\":[" + "1,".repeat(200_000) + "2],\"data_offsets\":[0,8]}}",
                8);
        rejects(QUICK_MS, p, "the array at $.w.shape has more than 100001 elements");
    }

    // ---- sharded index ----

    private Path index(String name, String json) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, json, StandardCharsets.UTF_8);
        return p;
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> rejectsIndex(long maxMs, Path p,
            String... fragments) {
        return rejectsWithin(maxMs, p, () -> ShardedSafeTensors.open(p).close(), fragments);
    }

    @Test
    void indexWithTooManyEntriesIsRejectedWhileParsing() throws IOException {
        StringBuilder sb = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        for (int i = 0; i <= ShardedSafeTensors.MAX_INDEX_TENSORS; i++) {
            sb.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":\"s.safetensors\"");
        }
        Path p = index("many.safetensors.index.json", sb.append("}}").toString());
        rejectsIndex(LINEAR_MS, p, "field 'weight_map' has more than 200000 entries",
                "ShardedSafeTensors.MAX_INDEX_TENSORS");
    }

    @Test
    void indexWithMillionCharacterKeyIsRejectedQuickly() throws IOException {
        Path p = index("longkey.safetensors.index.json",
                "{\"weight_map\":{\"" + "k".repeat(1_000_000) + "\":\"s.safetensors\"}}");
        rejectsIndex(QUICK_MS, p, "a key of 1000000 characters", "ShardedSafeTensors.MAX_NAME_LENGTH");
        Path shard = index("longshard.safetensors.index.json",
                "{\"weight_map\":{\"w\":\"" + "s".repeat(1_000_000) + "\"}}");
        rejectsIndex(QUICK_MS, shard, "tensor 'w'", "shard file name of 1000000 characters",
                "ShardedSafeTensors.MAX_NAME_LENGTH");
    }

    @Test
    void indexNamingTooManyShardsIsRejectedBeforeOpeningAny() throws IOException {
        StringBuilder sb = new StringBuilder("{\"weight_map\":{");
        for (int i = 0; i <= ShardedSafeTensors.MAX_SHARDS; i++) {
            sb.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":\"s").append(i).append(".safetensors\"");
        }
        Path p = index("shards.safetensors.index.json", sb.append("}}").toString());
        // no shard exists: were any opened first, the message would be about a missing shard file
        rejectsIndex(QUICK_MS, p, "names more than 10000 shard files", "ShardedSafeTensors.MAX_SHARDS");
    }

    @Test
    void indexLargerThanTheLimitIsRejectedBeforeReading() throws IOException {
        Path p = tmp.resolve("huge.safetensors.index.json");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(ShardedSafeTensors.MAX_INDEX_LENGTH + 1); // sparse: nothing is written
        }
        rejectsIndex(QUICK_MS, p, "index is 100000001 bytes", "more than the limit of 100000000 bytes",
                "ShardedSafeTensors.MAX_INDEX_LENGTH");
    }
}
