package org.peft4j.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Writes safetensors files byte for byte as the Python {@code safetensors} library does, and sharded checkpoints as
 * Hugging Face transformers names them.
 *
 * <p>Layout: tensors are ordered by descending dtype, using the order of the Python library's {@code Dtype}
 * enumeration (U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL; this is by alignment except that equal
 * sizes are further split by type), then by name (Unicode code point order, which equals the UTF-8 byte order the
 * library uses); they are stored contiguously in that order. The header is compact JSON with {@code "__metadata__"}
 * first, then the tensors in storage order, each as {@code {"dtype":..,"shape":[..],"data_offsets":[b,e]}}, escaped as
 * Rust's serde_json escapes (only {@code "}, {@code \}, and control characters); it is padded with spaces so that
 * {@code 8 + header length} is a multiple of 8. Metadata entries are written in key order (the Python library writes
 * them in hash order, which varies from run to run when there is more than one entry). The output depends only on the
 * content of the arguments, never on map iteration order.
 *
 * <p>Writes are atomic: bytes go to a temporary file in the target's directory, which is forced to disk and then moved
 * over the target with {@code ATOMIC_MOVE}. If anything fails, the temporary file is deleted and an existing target
 * is left untouched.
 */
public final class SafeTensorsWriter {
    /** The metadata transformers writes ({@code {"format": "pt"}}); transformers refuses metadata without it. */
    public static final Map<String, String> PT_METADATA = Collections.singletonMap("format", "pt");

    private static final Comparator<String> CODE_POINT_ORDER = SafeTensorsWriter::compareCodePoints;

    private SafeTensorsWriter() {
    }

    /** Something that writes to a channel. */
    @FunctionalInterface
    interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    /** Writes {@code tensors} without a {@code __metadata__} entry. See {@link #write(Path, Map, Map)}. */
    public static void write(Path file, Map<String, Tensor> tensors) {
        write(file, tensors, null);
    }

    /**
     * Writes {@code tensors} and {@code metadata} to {@code file} atomically, replacing it if it exists; missing
     * parent directories are created.
     *
     * @param metadata string metadata, or {@code null} for no {@code __metadata__} entry (an empty map writes an empty
     *                 one, as the Python library does)
     * @throws IllegalArgumentException if a name is {@code "__metadata__"} or a string is not valid Unicode
     * @throws org.peft4j.FileAccessException              if writing fails (the target is then unchanged)
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        try {
            Objects.requireNonNull(file, "file");
            List<Map.Entry<String, Tensor>> ordered = order(tensors);
            byte[] prefixAndHeader = header(ordered, metadata);
            writeAtomically(file, channel -> {
                writeFully(channel, ByteBuffer.wrap(prefixAndHeader));
                for (Map.Entry<String, Tensor> e : ordered) {
                    writeFully(channel, e.getValue().data());
                }
            });
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("write", file, e);
        }
    }

    /**
     * The bytes a file for these tensors starts with: the 8-byte length prefix and the padded header JSON.
     */
    public static byte[] header(Map<String, Tensor> tensors, Map<String, String> metadata) {
        return header(order(tensors), metadata);
    }

    /**
     * Writes {@code tensors} as a checkpoint in {@code dir} the way transformers' {@code save_pretrained} does.
     *
     * <p>Tensors are packed greedily in the map's iteration order (use a {@link LinkedHashMap} or a sorted map for a
     * reproducible split): a tensor larger than {@code maxShardBytes} gets a shard of its own, otherwise a new shard
     * starts when adding the tensor would exceed {@code maxShardBytes}. If everything fits into one shard, the result
     * is the single file {@code <baseName>.safetensors}. Otherwise the shards are
     * {@code <baseName>-00001-of-0000N.safetensors} ... and {@code <baseName>.safetensors.index.json} holds
     * {@code {"metadata": {"total_size": bytes}, "weight_map": {name: shard}}}, formatted as Python's
     * {@code json.dumps(index, indent=2, sort_keys=True) + "\n"}. Every file is written atomically, the index last;
     * afterwards, files of an earlier save under the same base name that are no longer part of the checkpoint (other
     * {@code <baseName>-NNNNN-of-NNNNN.safetensors} shards, a stale index or single file) are deleted.
     *
     * @param metadata       each shard's {@code __metadata__} (transformers uses {@link #PT_METADATA}), or {@code null}
     * @param maxShardBytes  the largest shard, counting tensor bytes only; must be positive
     * @return the files written: shards in order, then the index if there is one
     */
    public static List<Path> writeSharded(Path dir, String baseName, Map<String, Tensor> tensors,
            Map<String, String> metadata, long maxShardBytes) {
        try {
            Objects.requireNonNull(dir, "dir");
            Objects.requireNonNull(baseName, "baseName");
            Objects.requireNonNull(tensors, "tensors");
            if (maxShardBytes <= 0) {
                throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
            }
            if (baseName.isEmpty() || baseName.contains("/") || baseName.contains("\\")) {
                throw new IllegalArgumentException("baseName must be a plain file name prefix, got '" + baseName + "'");
            }
            order(tensors); // validates names and values before anything is written

            List<Map<String, Tensor>> shards = new ArrayList<>();
            Map<String, Tensor> current = new LinkedHashMap<>();
            long currentBytes = 0;
            long totalSize = 0;
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                long size = e.getValue().byteSize();
                totalSize += size;
                if (size > maxShardBytes) {
                    shards.add(Collections.singletonMap(e.getKey(), e.getValue()));
                    continue;
                }
                if (currentBytes + size > maxShardBytes) {
                    shards.add(current);
                    current = new LinkedHashMap<>();
                    currentBytes = 0;
                }
                current.put(e.getKey(), e.getValue());
                currentBytes += size;
            }
            if (!current.isEmpty() || shards.isEmpty()) {
                shards.add(current);
            }

            Path single = dir.resolve(baseName + ".safetensors");
            Path index = dir.resolve(baseName + ".safetensors.index.json");
            Files.createDirectories(dir);
            List<Path> written = new ArrayList<>();
            if (shards.size() == 1) {
                write(single, shards.get(0), metadata);
                written.add(single);
            } else {
                int n = shards.size();
                Map<String, String> weightMap = new TreeMap<>(CODE_POINT_ORDER);
                for (int i = 0; i < n; i++) {
                    String shardName = String.format("%s-%05d-of-%05d.safetensors", baseName, i + 1, n);
                    Path shardPath = dir.resolve(shardName);
                    write(shardPath, shards.get(i), metadata);
                    written.add(shardPath);
                    for (String name : shards.get(i).keySet()) {
                        weightMap.put(name, shardName);
                    }
                }
                byte[] json = indexJson(totalSize, weightMap).getBytes(StandardCharsets.UTF_8);
                writeAtomically(index, channel -> writeFully(channel, ByteBuffer.wrap(json)));
                written.add(index);
            }
            removeStale(dir, baseName, written);
            return Collections.unmodifiableList(written);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("write", dir, e);
        }
    }

    private static void removeStale(Path dir, String baseName, List<Path> written) throws IOException {
        Set<Path> keep = new HashSet<>();
        for (Path p : written) {
            keep.add(p.getFileName());
        }
        Pattern shardPattern = Pattern.compile(Pattern.quote(baseName) + "-\\d{5}-of-\\d{5}\\.safetensors");
        String single = baseName + ".safetensors";
        String index = baseName + ".safetensors.index.json";
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                boolean ours = shardPattern.matcher(name).matches() || name.equals(single) || name.equals(index);
                if (ours && !keep.contains(p.getFileName()) && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The index json exactly as {@code json.dumps(index, indent=2, sort_keys=True) + "\n"} writes it. */
    static String indexJson(long totalSize, Map<String, String> weightMap) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize).append("\n  },\n");
        sb.append("  \"weight_map\": ");
        if (weightMap.isEmpty()) {
            sb.append("{}");
        } else {
            sb.append("{\n");
            boolean first = true;
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                if (!first) {
                    sb.append(",\n");
                }
                first = false;
                sb.append("    ");
                pythonAsciiString(sb, e.getKey());
                sb.append(": ");
                pythonAsciiString(sb, e.getValue());
            }
            sb.append("\n  }");
        }
        return sb.append("\n}\n").toString();
    }

    /** A JSON string as Python's json module writes it with ensure_ascii=True. */
    private static void pythonAsciiString(StringBuilder sb, String s) {
        jsonString(sb, s, true);
    }

    /**
     * The Python library's dtype order: the declaration order of its Rust {@code Dtype} enum, in which the tensors
     * are sorted descending.
     */
    static int rank(DType dtype) {
        switch (dtype) {
            case BOOL: return 0;
            case U8: return 1;
            case I8: return 2;
            // F8_E5M2, F8_E4M3 (not supported by peft4j) come here
            case I16: return 5;
            case U16: return 6;
            case F16: return 7;
            case BF16: return 8;
            case I32: return 9;
            case U32: return 10;
            case F32: return 11;
            case F64: return 12;
            case I64: return 13;
            case U64: return 14;
            default: throw new AssertionError(dtype);
        }
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    private static List<Map.Entry<String, Tensor>> order(Map<String, Tensor> tensors) {
        Objects.requireNonNull(tensors, "tensors");
        List<Map.Entry<String, Tensor>> list = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            if (name == null) {
                throw new IllegalArgumentException("null tensor name");
            }
            if (SafeTensors.METADATA_KEY.equals(name)) {
                throw new IllegalArgumentException("'" + name + "' is reserved and cannot name a tensor");
            }
            if (e.getValue() == null) {
                throw new IllegalArgumentException("tensor '" + name + "' is null");
            }
            utf8(name, "tensor name");
            list.add(Map.entry(name, e.getValue()));
        }
        list.sort((x, y) -> {
            int c = Integer.compare(rank(y.getValue().dtype()), rank(x.getValue().dtype()));
            return c != 0 ? c : compareCodePoints(x.getKey(), y.getKey());
        });
        return list;
    }

    private static byte[] header(List<Map.Entry<String, Tensor>> ordered, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        if (metadata != null) {
            Map<String, String> sorted = new TreeMap<>(CODE_POINT_ORDER);
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("metadata keys and values must not be null");
                }
                sorted.put(e.getKey(), e.getValue());
            }
            jsonString(sb, SafeTensors.METADATA_KEY, false);
            sb.append(":{");
            boolean firstEntry = true;
            for (Map.Entry<String, String> e : sorted.entrySet()) {
                if (!firstEntry) {
                    sb.append(',');
                }
                firstEntry = false;
                jsonString(sb, e.getKey(), false);
                sb.append(':');
                jsonString(sb, e.getValue(), false);
            }
            sb.append('}');
            first = false;
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : ordered) {
            Tensor t = e.getValue();
            if (!first) {
                sb.append(',');
            }
            first = false;
            jsonString(sb, e.getKey(), false);
            sb.append(":{\"dtype\":\"").append(t.dtype().safetensorsName()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                if (i > 0) {
                    sb.append(',');
                }
                sb.append(shape[i]);
            }
            long end = offset + t.byteSize();
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        sb.append('}');
        byte[] json = utf8(sb.toString(), "header");
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        while (out.hasRemaining()) {
            out.put((byte) ' ');
        }
        return out.array();
    }

    /** A JSON string as Rust's serde_json writes it ({@code asciiOnly}: escape non-ASCII as Python does). */
    private static void jsonString(StringBuilder sb, String s, boolean asciiOnly) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                default:
                    if (c < 0x20 || (asciiOnly && c > 0x7e)) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    private static byte[] utf8(String s, String what) {
        try {
            ByteBuffer b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " contains an unpaired surrogate and cannot be written as UTF-8",
                    e);
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /**
     * Runs {@code body} against a fresh temporary file next to {@code target}, forces it to disk and atomically moves
     * it over {@code target}. On any failure the temporary file is removed and {@code target} is untouched.
     */
    static void writeAtomically(Path target, ChannelWriter body) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = createTemp(dir, abs.getFileName().toString());
        boolean moved = false;
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                body.write(channel);
                channel.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
        } finally {
            if (!moved) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure is what matters
                }
            }
        }
        syncDirectory(dir);
    }

    /** A new empty file with default permissions (unlike Files.createTempFile, which makes it owner-only). */
    private static Path createTemp(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            String suffix = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
            Path tmp = dir.resolve("." + name + "." + suffix + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            }
        }
    }

    /** Makes the rename durable where the platform allows opening a directory (not on Windows). */
    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | RuntimeException ignored) {
            // best effort
        }
    }
}
