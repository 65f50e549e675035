package org.peft4j.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.regex.Pattern;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * One safetensors file, opened for lazy, zero-copy reading.
 *
 * <p>The format: an 8-byte little-endian unsigned header length {@code N}, then {@code N} bytes of UTF-8 JSON (an
 * object, possibly right-padded with spaces) mapping tensor names to {@code {"dtype", "shape", "data_offsets"}} and
 * optionally {@code "__metadata__"} to a string-to-string map, then the data section. {@link #open(Path)} reads and
 * validates only the header; {@link #get(String)} memory-maps just that tensor's bytes
 * ({@code FileChannel.map(READ_ONLY, 8 + N + begin, length)}), so files larger than 2 GiB are fine as long as each
 * tensor is smaller than 2 GiB.
 *
 * <p>Validation is strict and happens at open; every problem is a {@link SafeTensorsException} naming the file, the
 * tensor and the field: a file shorter than 8 bytes, a header length beyond the file or over
 * {@value #MAX_HEADER_LENGTH} bytes (the length is unsigned), more than {@value #MAX_TENSORS} tensors, keys longer than
 * {@value #MAX_KEY_LENGTH} characters, more than {@value #MAX_HEADER_VALUES} JSON values, header bytes that are not UTF-8, malformed JSON, duplicate JSON keys, a header
 * that is not an object, non-string {@code __metadata__} values, unknown dtypes, shapes that are not arrays of
 * non-negative integers, {@code data_offsets} that are not two non-negative integers with {@code begin <= end}, a byte
 * length other than {@code numel * dtype size}, offsets beyond the data section, overlapping tensors and bytes of the
 * data section covered by no tensor (the tensors must tile it contiguously from 0 to the end of the file). Unknown extra
 * fields in a tensor entry are ignored, as the Python library does.
 *
 * <p>Files change by rename only. Tensors are memory-mapped, so a file truncated in place while mapped would make
 * the next access to the missing pages kill the JVM with SIGBUS. peft4j's own writers ({@link SafeTensorsWriter},
 * {@code save_pretrained}) write a new file and rename it over the old one, which leaves open files and mapped
 * tensors on the old contents; other programs must do the same. As a cheap guard, {@link #get} checks that the file
 * still has the size it had when opened (one {@code fstat}) before mapping, and {@link #checkUnchanged()} does so on
 * demand: a file rewritten in place is then a {@link SafeTensorsException} instead of a crash (a truncation after
 * the tensor was mapped cannot be caught this way).
 *
 * <p>Instances are thread-safe.
 */
public final class SafeTensors implements TensorSource {
    /**
     * The largest header accepted, in bytes: {@code MAX_HEADER_SIZE} of the Rust {@code safetensors} crate that the
     * Python library wraps, so every file Python can read is accepted. The length prefix is read as an unsigned
     * 64-bit integer and compared with this limit before anything is allocated.
     */
    public static final long MAX_HEADER_LENGTH = 100_000_000L;

    /**
     * The most tensors one file may declare. The Rust crate has no such limit (its header limit alone lets through
     * a million empty tensors, which builds about a gigabyte of objects here); real checkpoints hold hundreds to a few
     * tens of thousands of tensors per file, since even the largest models are split into shards of a few GB. The
     * count is enforced while the header is parsed, so a file over it is rejected before its tensors are built.
     */
    public static final int MAX_TENSORS = 100_000;

    /**
     * The longest key (tensor name, metadata key, field name) accepted, in characters. The Rust crate has no such
     * limit. Real names are module paths of at most a few hundred characters; this leaves a wide margin while keeping
     * megabyte-long names out of hash maps and error messages.
     */
    public static final int MAX_KEY_LENGTH = 65_536;

    /**
     * The most JSON values (objects, arrays, strings, numbers) one header may hold. The Rust crate has no such limit;
     * without it a 100 MB header of one huge array builds some 50 million objects. A tensor entry takes 6 values plus
     * one per dimension, so this leaves room for {@link #MAX_TENSORS} tensors of rank 14 (weights have rank 4 or
     * less).
     */
    public static final long MAX_HEADER_VALUES = 20L * MAX_TENSORS;

    /** The header key holding string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    private static final Pattern INTEGER = Pattern.compile("-?(0|[1-9][0-9]*)");

    private final Path file;
    private final FileChannel channel;
    private final long headerLength;
    private final Map<String, TensorInfo> tensors;
    private final List<String> keys;
    private final Map<String, String> metadata;
    private final long sizeAtOpen;
    private volatile boolean closed;

    private SafeTensors(Path file, FileChannel channel, long headerLength, Map<String, TensorInfo> tensors,
            Map<String, String> metadata, long sizeAtOpen) {
        this.file = file;
        this.channel = channel;
        this.sizeAtOpen = sizeAtOpen;
        this.headerLength = headerLength;
        this.tensors = tensors;
        this.keys = Collections.unmodifiableList(new ArrayList<>(tensors.keySet()));
        this.metadata = metadata;
    }

    /**
     * Opens a safetensors file and validates its header. Nothing is mapped yet.
     *
     * @throws SafeTensorsException if the file is not a valid safetensors file
     * @throws org.peft4j.FileAccessException          if it cannot be read
     */
    public static SafeTensors open(Path file) {
        try {
            Objects.requireNonNull(file, "file");
            if (Files.isDirectory(file)) {
                throw new SafeTensorsException(file, null, "is a directory, not a safetensors file (see openModel and"
                        + " openDirectory)");
            }
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
            try {
                return read(file, channel);
            } catch (IOException | RuntimeException | Error e) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
    }

    /**
     * Opens the model weights in a directory: {@code model.safetensors}, or else the sharded checkpoint described by
     * {@code model.safetensors.index.json}. Same as {@code openDirectory(dir, "model")}.
     */
    public static TensorSource openModel(Path dir) {
        return openDirectory(dir, "model");
    }

    /**
     * Opens {@code <baseName>.safetensors} in {@code dir} if it exists, else the sharded checkpoint described by
     * {@code <baseName>.safetensors.index.json} (see {@link ShardedSafeTensors}). For example
     * {@code openDirectory(dir, "adapter_model")} opens a PEFT adapter.
     *
     * @throws SafeTensorsException if {@code dir} is not a directory or holds neither file, or a file is invalid
     */
    public static TensorSource openDirectory(Path dir, String baseName) {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(baseName, "baseName");
        if (!Files.isDirectory(dir)) {
            throw new SafeTensorsException(dir, null, "is not a directory");
        }
        Path single = dir.resolve(baseName + ".safetensors");
        if (Files.isRegularFile(single)) {
            return open(single);
        }
        Path index = dir.resolve(baseName + ".safetensors.index.json");
        if (Files.isRegularFile(index)) {
            return ShardedSafeTensors.open(index);
        }
        throw new SafeTensorsException(dir, null, "contains neither " + single.getFileName() + " nor "
                + index.getFileName());
    }

    private static SafeTensors read(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < 8) {
            throw new SafeTensorsException(file, null, "file is " + size
                    + " bytes, shorter than the 8-byte header length prefix");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, channel, prefix, 0);
        long n = prefix.getLong(0);
        if (Long.compareUnsigned(n, MAX_HEADER_LENGTH) > 0) {
            throw new SafeTensorsException(file, null, "header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_LENGTH + " bytes");
        }
        // n is now in [0, MAX_HEADER_LENGTH], so neither side can overflow
        if (n > size - 8) {
            throw new SafeTensorsException(file, null, "header length " + n + " extends beyond the end of the file ("
                    + (size - 8) + " bytes follow the length prefix)");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
        readFully(file, channel, headerBytes, 8);
        headerBytes.flip();
        String json = decodeUtf8(file, headerBytes);
        Object root;
        try {
            // MAX_TENSORS + 1 members: the tensors and __metadata__; the tensor count alone is checked below
            root = StrictJson.parse(json, new StrictJson.Limits(MAX_KEY_LENGTH, MAX_TENSORS + 1, MAX_HEADER_VALUES));
        } catch (StrictJson.LimitException e) {
            throw new SafeTensorsException(file, null, limitMessage(e), e);
        } catch (StrictJson.JsonException e) {
            String tensor = e.duplicateKey != null && "$".equals(e.objectPath) && !METADATA_KEY.equals(e.duplicateKey)
                    ? e.duplicateKey : null;
            throw new SafeTensorsException(file, tensor, "invalid header JSON: " + e.getMessage(), e);
        }
        long dataStart = 8 + n;
        long dataLength = size - dataStart;
        Header header = parseHeader(file, root, dataStart, dataLength);
        return new SafeTensors(file, channel, n, header.tensors, header.metadata, size);
    }

    private static String limitMessage(StrictJson.LimitException e) {
        switch (e.limit) {
            case MEMBERS:
                if ("$".equals(e.path)) {
                    return "header declares more than " + MAX_TENSORS + " tensors, the limit"
                            + " (SafeTensors.MAX_TENSORS)";
                }
                return "header exceeds a limit: " + e.getMessage() + " (SafeTensors.MAX_TENSORS + 1)";
            case KEY_LENGTH:
                return "header exceeds a limit: " + e.getMessage() + " (SafeTensors.MAX_KEY_LENGTH)";
            default:
                return "header exceeds a limit: " + e.getMessage() + " (SafeTensors.MAX_HEADER_VALUES)";
        }
    }

    private static void readFully(Path file, FileChannel channel, ByteBuffer dst, long position) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int r = channel.read(dst, pos);
            if (r < 0) {
                throw new SafeTensorsException(file, null, "unexpected end of file at " + pos);
            }
            pos += r;
        }
    }

    private static String decodeUtf8(Path file, ByteBuffer bytes) throws SafeTensorsException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer out = CharBuffer.allocate(bytes.remaining());
        CoderResult result = decoder.decode(bytes, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            throw new SafeTensorsException(file, null, "header is not valid UTF-8: malformed byte sequence at header byte "
                    + bytes.position() + " (file offset " + (8 + bytes.position()) + ")");
        }
        out.flip();
        return out.toString();
    }

    /** The validated content of a header. */
    static final class Header {
        final Map<String, TensorInfo> tensors;
        final Map<String, String> metadata;

        Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
            this.tensors = tensors;
            this.metadata = metadata;
        }
    }

    static Header parseHeader(Path file, Object root, long dataStart, long dataLength) throws SafeTensorsException {
        if (!(root instanceof Map)) {
            throw new SafeTensorsException(file, null, "header must be a JSON object, got "
                    + StrictJson.describe(root));
        }
        Map<?, ?> rootMap = (Map<?, ?>) root;
        int tensorCount = rootMap.size() - (rootMap.containsKey(METADATA_KEY) ? 1 : 0);
        if (tensorCount > MAX_TENSORS) {
            throw new SafeTensorsException(file, null, "header declares " + tensorCount + " tensors, more than the"
                    + " limit of " + MAX_TENSORS + " (SafeTensors.MAX_TENSORS)");
        }
        Map<String, String> metadata = Collections.emptyMap();
        List<TensorInfo> infos = new ArrayList<>(tensorCount);
        for (Map.Entry<?, ?> e : rootMap.entrySet()) {
            String name = (String) e.getKey();
            if (METADATA_KEY.equals(name)) {
                metadata = parseMetadata(file, e.getValue());
            } else {
                infos.add(parseTensor(file, name, e.getValue(), dataStart, dataLength));
            }
        }
        infos.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end)
                .thenComparing(TensorInfo::name));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : infos) {
            if (t.begin() < expected) {
                throw new SafeTensorsException(file, t.name(), "data_offsets " + range(t) + " overlap tensor '"
                        + previous.name() + "' " + range(previous));
            }
            if (t.begin() > expected) {
                throw new SafeTensorsException(file, t.name(), "data_offsets " + range(t)
                        + " leave a hole: data section bytes [" + expected + ", " + t.begin()
                        + ") belong to no tensor; tensors must cover the data section contiguously from 0");
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataLength) {
            throw new SafeTensorsException(file, null, "the data section is " + dataLength + " bytes but the tensors"
                    + " cover only [0, " + expected + "): bytes [" + expected + ", " + dataLength
                    + ") belong to no tensor; the file must end where the last tensor ends");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (TensorInfo t : infos) {
            tensors.put(t.name(), t);
        }
        return new Header(Collections.unmodifiableMap(tensors), metadata);
    }

    private static String range(TensorInfo t) {
        return "[" + t.begin() + ", " + t.end() + "]";
    }

    private static Map<String, String> parseMetadata(Path file, Object value) throws SafeTensorsException {
        if (!(value instanceof Map)) {
            throw new SafeTensorsException(file, null, "field '" + METADATA_KEY
                    + "': expected an object mapping strings to strings, got " + StrictJson.describe(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
            if (!(e.getValue() instanceof String)) {
                throw new SafeTensorsException(file, null, "field '" + METADATA_KEY + "': value of key '"
                        + e.getKey() + "' must be a string, got " + StrictJson.describe(e.getValue()));
            }
            out.put((String) e.getKey(), (String) e.getValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static TensorInfo parseTensor(Path file, String name, Object value, long dataStart, long dataLength)
            throws SafeTensorsException {
        if (!(value instanceof Map)) {
            throw new SafeTensorsException(file, name, "expected an object with fields dtype, shape and data_offsets,"
                    + " got " + StrictJson.describe(value));
        }
        Map<?, ?> entry = (Map<?, ?>) value;
        Object dtypeValue = field(file, name, entry, "dtype");
        if (!(dtypeValue instanceof String)) {
            throw new SafeTensorsException(file, name, "field 'dtype': expected a string, got "
                    + StrictJson.describe(dtypeValue));
        }
        DType dtype;
        try {
            dtype = DType.fromSafetensors((String) dtypeValue);
        } catch (IllegalArgumentException e) {
            throw new SafeTensorsException(file, name, "field 'dtype': " + e.getMessage(), e);
        }

        Object shapeValue = field(file, name, entry, "shape");
        if (!(shapeValue instanceof List)) {
            throw new SafeTensorsException(file, name, "field 'shape': expected an array of non-negative integers,"
                    + " got " + StrictJson.describe(shapeValue));
        }
        List<?> shapeList = (List<?>) shapeValue;
        long[] shape = new long[shapeList.size()];
        for (int i = 0; i < shape.length; i++) {
            String problem = nonNegativeProblem(shapeList.get(i));
            if (problem != null) {
                throw new SafeTensorsException(file, name, "field 'shape': expected an array of non-negative"
                        + " integers, got " + StrictJson.describe(shapeValue) + " (dimension " + i + " " + problem
                        + ")");
            }
            shape[i] = Long.parseLong(((StrictJson.Num) shapeList.get(i)).text);
        }

        Object offsetsValue = field(file, name, entry, "data_offsets");
        String offsetsExpected = "field 'data_offsets': expected two non-negative integers [begin, end], got "
                + StrictJson.describe(offsetsValue);
        if (!(offsetsValue instanceof List) || ((List<?>) offsetsValue).size() != 2) {
            throw new SafeTensorsException(file, name, offsetsExpected);
        }
        List<?> offsets = (List<?>) offsetsValue;
        for (int i = 0; i < 2; i++) {
            String problem = nonNegativeProblem(offsets.get(i));
            if (problem != null) {
                throw new SafeTensorsException(file, name, offsetsExpected + " (" + (i == 0 ? "begin" : "end") + " "
                        + problem + ")");
            }
        }
        long begin = Long.parseLong(((StrictJson.Num) offsets.get(0)).text);
        long end = Long.parseLong(((StrictJson.Num) offsets.get(1)).text);
        if (end < begin) {
            throw new SafeTensorsException(file, name, "field 'data_offsets': end " + end + " is before begin "
                    + begin);
        }

        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(Tensor.numel(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafeTensorsException(file, name, "shape/byte-length mismatch: shape " + Arrays.toString(shape)
                    + " of " + dtype + " has more bytes than a long can count, data_offsets span " + (end - begin));
        }
        if (expectedBytes != end - begin) {
            throw new SafeTensorsException(file, name, "shape/byte-length mismatch: shape " + Arrays.toString(shape)
                    + " of " + dtype + " needs " + expectedBytes + " bytes, data_offsets [" + begin + ", " + end
                    + "] span " + (end - begin));
        }
        if (end > dataLength) {
            throw new SafeTensorsException(file, name, "field 'data_offsets': [" + begin + ", " + end
                    + "] extends beyond the data section of " + dataLength + " bytes");
        }
        return new TensorInfo(name, dtype, shape, begin, end, dataStart);
    }

    private static Object field(Path file, String name, Map<?, ?> entry, String field) throws SafeTensorsException {
        if (!entry.containsKey(field)) {
            throw new SafeTensorsException(file, name, "field '" + field + "' is missing");
        }
        return entry.get(field);
    }

    /** Null if {@code value} is a non-negative integer that fits a long, else why not. */
    private static String nonNegativeProblem(Object value) {
        if (!(value instanceof StrictJson.Num)) {
            return "is not a number: " + StrictJson.describe(value);
        }
        String text = ((StrictJson.Num) value).text;
        if (!INTEGER.matcher(text).matches()) {
            return "is not an integer: " + text;
        }
        if (text.startsWith("-")) {
            return "is negative: " + text;
        }
        try {
            Long.parseLong(text);
        } catch (NumberFormatException e) {
            return "is too large: " + text;
        }
        return null;
    }

    /** The file this was opened from. */
    public Path file() {
        return file;
    }

    /** The header length {@code N} in bytes (excluding the 8-byte prefix). */
    public long headerLength() {
        return headerLength;
    }

    /** Absolute file position of the data section, {@code 8 + N}. */
    public long dataStart() {
        return 8 + headerLength;
    }

    /**
     * Tensor names in file order: ascending {@code data_offsets} (ties, which only empty tensors can produce, by
     * name). For files written by the Python library or {@link SafeTensorsWriter} this is descending dtype rank, then
     * name.
     */
    @Override
    public List<String> keys() {
        return keys;
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new NoSuchElementException(file + ": no tensor '" + name + "' (the file has " + tensors.size()
                    + " tensors)");
        }
        return t;
    }

    /**
     * The tensor {@code name} of an open file whose bytes fit one buffer, with the file checked unchanged since it was
     * opened ({@code verb}: how the bytes will be taken, for the message).
     */
    private TensorInfo readable(String name, String verb) throws IOException {
        TensorInfo t = info(name);
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
        long length = t.byteLength();
        if (length > Integer.MAX_VALUE) {
            throw new SafeTensorsException(file, name, "is " + length + " bytes; a single tensor must be smaller"
                    + " than 2 GiB (" + (Integer.MAX_VALUE + 1L) + " bytes) to be " + verb);
        }
        if (length > 0) {
            checkUnchanged(name);
        }
        return t;
    }

    /**
     * Maps the tensor's bytes read-only and wraps them without copying. Each call creates a new mapping; callers that
     * use a tensor repeatedly should keep the returned object.
     */
    @Override
    public Tensor get(String name) {
        try {
            TensorInfo t = readable(name, "mapped");
            long length = t.byteLength();
            ByteBuffer bytes = length == 0
                    ? ByteBuffer.allocateDirect(0)
                    : channel.map(FileChannel.MapMode.READ_ONLY, t.fileOffset(), length);
            return Tensor.wrap(t.dtype(), t.shape(), bytes);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
    }

    /**
     * Reads the tensor's bytes into a new buffer of its own, without mapping the file: for callers that copy the
     * weights anyway (adapter loads), so that no mapping outlives the call waiting for the garbage collector.
     */
    public Tensor read(String name) {
        try {
            TensorInfo t = readable(name, "read");
            long length = t.byteLength();
            ByteBuffer bytes = ByteBuffer.allocateDirect((int) length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long at = t.fileOffset();
            while (bytes.hasRemaining()) {
                int n = channel.read(bytes, at + bytes.position());
                if (n < 0) {
                    throw new SafeTensorsException(file, name, "ends before its data (" + bytes.position() + " of "
                            + length + " bytes read)");
                }
            }
            bytes.flip();
            return Tensor.wrap(t.dtype(), t.shape(), bytes);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
    }

    /**
     * Checks that the file still has the size it had when opened, i.e. was not truncated or rewritten in place
     * (which would make mapped pages fault with SIGBUS).
     *
     * @throws SafeTensorsException naming the file and both sizes when it changed
     */
    public void checkUnchanged() {
        try {
            checkUnchanged(null);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
    }

    private void checkUnchanged(String tensor) throws IOException {
        long now = channel.size();
        if (now != sizeAtOpen) {
            throw new SafeTensorsException(file, tensor, "changed size from " + sizeAtOpen + " to " + now
                    + " bytes since it was opened: it was rewritten in place (replace weight files by writing a new "
                    + "file and renaming it over the old one)");
        }
    }

    /** The {@code __metadata__} map, in header order; empty if the header has none. */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Closes the file channel. Tensors already returned stay readable. */
    @Override
    public void close() {
        try {
            closed = true;
            channel.close();
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("close", file, e);
        }
    }

    @Override
    public String toString() {
        return "SafeTensors(" + file + ", " + tensors.size() + " tensors)";
    }
}
