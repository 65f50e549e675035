package org.peft4j.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.peft4j.tensor.Tensor;

/**
 * A checkpoint split over several safetensors files, described by an index json as Hugging Face transformers writes
 * it ({@code model.safetensors.index.json}):
 *
 * <pre>{@code
 * {"metadata": {"total_size": 1234}, "weight_map": {"lm_head.weight": "model-00002-of-00002.safetensors", ...}}
 * }</pre>
 *
 * <p>The {@code weight_map} is authoritative: exactly its tensors are presented, as one collection. All shards are
 * opened (headers validated) when the index is opened; it is an error if a shard file is missing, if a shard name
 * leaves the index's directory, or if a shard lacks a tensor the index assigns to it. Tensors present in a shard but
 * absent from the {@code weight_map} are not exposed. {@code metadata.total_size}, when present, must be a
 * non-negative integer; it is reported by {@link #totalSize()} but not checked against the shards (checkpoints in the
 * wild do not always agree on what it counts).
 *
 * <p>Instances are thread-safe.
 */
public final class ShardedSafeTensors implements TensorSource {
    /**
     * The largest index file accepted, in bytes: the same as {@link SafeTensors#MAX_HEADER_LENGTH}. An index of
     * {@link #MAX_INDEX_TENSORS} typical entries is a few tens of MB; the size is checked before the file is read.
     */
    public static final long MAX_INDEX_LENGTH = SafeTensors.MAX_HEADER_LENGTH;

    /**
     * The most entries the {@code weight_map} may have. The largest published checkpoints list tens of thousands of
     * tensors; this leaves a wide margin while bounding the objects built (the count is enforced during parsing).
     */
    public static final int MAX_INDEX_TENSORS = 200_000;

    /**
     * The most distinct shard files the {@code weight_map} may name. Every shard stays open (one file descriptor and
     * its parsed header) while the checkpoint is open; the largest checkpoints have a few hundred shards.
     */
    public static final int MAX_SHARDS = 10_000;

    /**
     * The longest key (tensor name) and shard file name accepted, in characters: {@link SafeTensors#MAX_KEY_LENGTH},
     * since each name must also be a key of its shard's header.
     */
    public static final int MAX_NAME_LENGTH = SafeTensors.MAX_KEY_LENGTH;

    /** The most JSON values the index may hold: two per weight_map entry, plus room for metadata. */
    static final long MAX_INDEX_VALUES = 2L * MAX_INDEX_TENSORS + 10_000;

    private final Path indexFile;
    private final Map<String, SafeTensors> shardOf;
    private final List<SafeTensors> shards;
    private final List<String> keys;
    private final Map<String, String> metadata;
    private final long totalSize;

    private ShardedSafeTensors(Path indexFile, Map<String, SafeTensors> shardOf, List<SafeTensors> shards,
            List<String> keys, Map<String, String> metadata, long totalSize) {
        this.indexFile = indexFile;
        this.shardOf = shardOf;
        this.shards = shards;
        this.keys = keys;
        this.metadata = metadata;
        this.totalSize = totalSize;
    }

    /**
     * Opens a sharded checkpoint from its index json; shard paths are resolved against the index's directory.
     *
     * @throws SafeTensorsException if the index or a shard is invalid or inconsistent
     */
    public static ShardedSafeTensors open(Path indexFile) {
        try {
            Objects.requireNonNull(indexFile, "indexFile");
            long size = Files.size(indexFile);
            if (size > MAX_INDEX_LENGTH) {
                throw new SafeTensorsException(indexFile, null, "index is " + size + " bytes, more than the limit of "
                        + MAX_INDEX_LENGTH + " bytes (ShardedSafeTensors.MAX_INDEX_LENGTH)");
            }
            byte[] bytes = Files.readAllBytes(indexFile);
            String json;
            try {
                json = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw new SafeTensorsException(indexFile, null, "index is not valid UTF-8", e);
            }
            Object root;
            try {
                root = StrictJson.parse(json, new StrictJson.Limits(MAX_NAME_LENGTH, MAX_INDEX_TENSORS, MAX_INDEX_VALUES));
            } catch (StrictJson.LimitException e) {
                String which = e.limit == StrictJson.Limit.KEY_LENGTH ? "MAX_NAME_LENGTH"
                        : e.limit == StrictJson.Limit.MEMBERS ? "MAX_INDEX_TENSORS" : "MAX_INDEX_VALUES";
                String detail = e.limit == StrictJson.Limit.MEMBERS && "$.weight_map".equals(e.path)
                        ? "field 'weight_map' has more than " + MAX_INDEX_TENSORS + " entries, the limit"
                        : "index exceeds a limit: " + e.getMessage();
                throw new SafeTensorsException(indexFile, null, detail + " (ShardedSafeTensors." + which + ")", e);
            } catch (StrictJson.JsonException e) {
                throw new SafeTensorsException(indexFile, null, "invalid index JSON: " + e.getMessage(), e);
            }
            if (!(root instanceof Map)) {
                throw new SafeTensorsException(indexFile, null, "index must be a JSON object, got "
                        + StrictJson.describe(root));
            }
            Map<?, ?> index = (Map<?, ?>) root;
            Map<String, String> metadata = new LinkedHashMap<>();
            long totalSize = -1;
            Object metaValue = index.get("metadata");
            if (metaValue != null && metaValue != StrictJson.NULL) {
                if (!(metaValue instanceof Map)) {
                    throw new SafeTensorsException(indexFile, null, "field 'metadata': expected an object, got "
                            + StrictJson.describe(metaValue));
                }
                for (Map.Entry<?, ?> e : ((Map<?, ?>) metaValue).entrySet()) {
                    Object v = e.getValue();
                    if (v instanceof String || v instanceof StrictJson.Num || v instanceof Boolean) {
                        metadata.put((String) e.getKey(), v.toString());
                    }
                }
                Object total = ((Map<?, ?>) metaValue).get("total_size");
                if (total != null) {
                    String text = total instanceof StrictJson.Num ? ((StrictJson.Num) total).text : null;
                    if (text == null || !text.matches("0|[1-9][0-9]{0,17}")) {
                        throw new SafeTensorsException(indexFile, null, "field 'metadata.total_size': expected a"
                                + " non-negative integer, got " + StrictJson.describe(total));
                    }
                    totalSize = Long.parseLong(text);
                }
            }
            Object weightMapValue = index.get("weight_map");
            if (!(weightMapValue instanceof Map)) {
                throw new SafeTensorsException(indexFile, null, "field 'weight_map': expected an object mapping tensor"
                        + " names to shard files, got " + (weightMapValue == null ? "nothing (it is missing)"
                        : StrictJson.describe(weightMapValue)));
            }
            Map<?, ?> weightMap = (Map<?, ?>) weightMapValue;
            Path dir = indexFile.toAbsolutePath().getParent();
            // shard name -> the tensors assigned to it, shards in file-name order
            TreeMap<String, List<String>> byShard = new TreeMap<>();
            for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                String tensor = (String) e.getKey();
                if (!(e.getValue() instanceof String)) {
                    throw new SafeTensorsException(indexFile, tensor, "field 'weight_map': expected a shard file name,"
                            + " got " + StrictJson.describe(e.getValue()));
                }
                String shardName = (String) e.getValue();
                if (shardName.length() > MAX_NAME_LENGTH) {
                    throw new SafeTensorsException(indexFile, tensor, "field 'weight_map': shard file name of "
                            + shardName.length() + " characters exceeds the limit of " + MAX_NAME_LENGTH
                            + " (ShardedSafeTensors.MAX_NAME_LENGTH)");
                }
                List<String> assigned = byShard.get(shardName);
                if (assigned == null) {
                    if (byShard.size() >= MAX_SHARDS) {
                        throw new SafeTensorsException(indexFile, tensor, "field 'weight_map' names more than "
                                + MAX_SHARDS + " shard files, the limit (ShardedSafeTensors.MAX_SHARDS)");
                    }
                    assigned = new ArrayList<>();
                    byShard.put(shardName, assigned);
                }
                assigned.add(tensor);
            }

            List<SafeTensors> shards = new ArrayList<>();
            Map<String, SafeTensors> shardOf = new LinkedHashMap<>();
            List<String> keys = new ArrayList<>();
            try {
                for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
                    String shardName = e.getKey();
                    String firstTensor = e.getValue().get(0);
                    Path shardPath = resolveShard(indexFile, dir, shardName, firstTensor);
                    if (!Files.isRegularFile(shardPath)) {
                        throw new SafeTensorsException(indexFile, firstTensor, "field 'weight_map': shard file '"
                                + shardName + "' does not exist (expected at " + shardPath + ")");
                    }
                    SafeTensors shard = SafeTensors.open(shardPath);
                    shards.add(shard);
                    for (String tensor : e.getValue()) {
                        if (!shard.contains(tensor)) {
                            throw new SafeTensorsException(indexFile, tensor, "field 'weight_map': tensor is assigned to"
                                    + " shard '" + shardName + "' but that file does not contain it");
                        }
                    }
                    Set<String> assigned = new HashSet<>(e.getValue());
                    for (String tensor : shard.keys()) {
                        if (assigned.remove(tensor)) {
                            keys.add(tensor);
                            shardOf.put(tensor, shard);
                        }
                    }
                }
            } catch (RuntimeException | Error e) {
                for (SafeTensors s : shards) {
                    try {
                        s.close();
                    } catch (RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
            return new ShardedSafeTensors(indexFile, Collections.unmodifiableMap(shardOf),
                    Collections.unmodifiableList(shards), Collections.unmodifiableList(keys),
                    Collections.unmodifiableMap(metadata), totalSize);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", indexFile, e);
        }
    }

    private static Path resolveShard(Path indexFile, Path dir, String shardName, String tensor)
            throws SafeTensorsException {
        Path rel;
        try {
            rel = dir.getFileSystem().getPath(shardName);
        } catch (RuntimeException e) {
            throw new SafeTensorsException(indexFile, tensor, "field 'weight_map': invalid shard file name '"
                    + shardName + "'", e);
        }
        Path resolved = dir.resolve(rel).normalize();
        if (shardName.isEmpty() || rel.isAbsolute() || !resolved.startsWith(dir.normalize())) {
            throw new SafeTensorsException(indexFile, tensor, "field 'weight_map': shard file '" + shardName
                    + "' is not a relative path inside " + dir);
        }
        return resolved;
    }

    /** The index json this was opened from. */
    public Path indexFile() {
        return indexFile;
    }

    /** The opened shards, in file-name order. */
    public List<SafeTensors> shards() {
        return shards;
    }

    /** The shard holding a tensor. */
    public SafeTensors shard(String name) {
        SafeTensors s = shardOf.get(name);
        if (s == null) {
            throw new NoSuchElementException(indexFile + ": no tensor '" + name + "' in the weight_map");
        }
        return s;
    }

    /** {@code metadata.total_size} from the index, or -1 if absent. */
    public long totalSize() {
        return totalSize;
    }

    /** Tensor names: shards in file-name order, then file order within each shard. */
    @Override
    public List<String> keys() {
        return keys;
    }

    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    /** The header facts from the tensor's shard ({@link TensorInfo#fileOffset()} is within that shard). */
    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public Tensor get(String name) {
        return shard(name).get(name);
    }

    /**
     * The index's {@code metadata} object with scalar values rendered as strings (e.g. {@code total_size}); each
     * shard's own {@code __metadata__} is available from {@link #shards()}.
     */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Closes every shard. */
    @Override
    public void close() {
        RuntimeException first = null;
        for (SafeTensors s : shards) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "ShardedSafeTensors(" + indexFile + ", " + shards.size() + " shards, " + keys.size() + " tensors)";
    }
}
