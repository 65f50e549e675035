package org.peft4j.safetensors;

import org.peft4j.testutil.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

class ShardedSafeTensorsTest {
    @TempDir
    Path tmp;

    private static Path pythonDir() {
        return Fixtures.safetensors("sharded");
    }

    /** The state dict of {@code sharded_tensors()} in interop/safetensors_fixtures.py, in the same order. */
    static Map<String, Tensor> stateDict() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", ramp(0f, 8, 4));
        m.put("model.layers.0.self_attn.q_proj.weight", ramp(100f, 4, 4));
        m.put("model.layers.0.self_attn.k_proj.weight", ramp(200f, 4, 4));
        m.put("model.layers.0.mlp.down_proj.weight", ramp(300f, 4, 8).to(DType.BF16));
        m.put("model.norm.weight", Tensor.of(new float[] {1f, 1f, 1f, 1f}, 4));
        m.put("lm_head.weight", ramp(400f, 8, 4));
        return m;
    }

    private static Tensor ramp(float start, long... shape) {
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = i * 0.25f + start;
        }
        return Tensor.of(v, shape);
    }

    private static long maxShardSize() throws IOException {
        JsonObject params = JsonParser.parseString(Files.readString(pythonDir().resolve("params.json")))
                .getAsJsonObject();
        List<String> order = new ArrayList<>();
        params.getAsJsonArray("order").forEach(e -> order.add(e.getAsString()));
        assertThat(order).containsExactlyElementsOf(stateDict().keySet());
        return params.get("max_shard_size").getAsLong();
    }

    @Test
    void readsTheTransformersStyleCheckpoint() throws IOException {
        Map<String, Tensor> expected = stateDict();
        try (TensorSource src = SafeTensors.openModel(pythonDir())) {
            assertThat(src).isInstanceOf(ShardedSafeTensors.class);
            ShardedSafeTensors sharded = (ShardedSafeTensors) src;
            assertThat(sharded.shards()).hasSizeGreaterThanOrEqualTo(3);
            assertThat(src.keys()).containsExactlyInAnyOrderElementsOf(expected.keySet());
            long total = 0;
            for (String k : expected.keySet()) {
                Tensor t = src.get(k);
                assertThat(t.contentEquals(expected.get(k))).as(k).isTrue();
                assertThat(src.info(k).shape()).containsExactly(expected.get(k).shape());
                total += t.byteSize();
            }
            assertThat(sharded.totalSize()).isEqualTo(total);
            assertThat(src.metadata()).containsEntry("total_size", Long.toString(total));
            assertThat(sharded.shard("model.embed_tokens.weight").file().getFileName().toString())
                    .matches("model-0000\\d-of-0000\\d\\.safetensors");
            for (SafeTensors shard : sharded.shards()) {
                assertThat(shard.metadata()).containsExactly(Map.entry("format", "pt"));
            }
            assertThat(src.contains("nope")).isFalse();
            assertThatThrownBy(() -> src.get("nope")).isInstanceOf(NoSuchElementException.class)
                    .hasMessageContaining("model.safetensors.index.json");
        }
    }

    @Test
    void javaShardedWriteIsByteIdenticalToPython() throws IOException {
        List<Path> written = SafeTensorsWriter.writeSharded(tmp, "model", stateDict(),
                SafeTensorsWriter.PT_METADATA, maxShardSize());
        List<String> pythonFiles;
        try (Stream<Path> s = Files.list(pythonDir())) {
            pythonFiles = s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("params.json")).sorted()
                    .collect(Collectors.toList());
        }
        assertThat(written.stream().map(p -> p.getFileName().toString()).sorted())
                .containsExactlyElementsOf(pythonFiles);
        for (String name : pythonFiles) {
            assertThat(Files.readAllBytes(tmp.resolve(name))).as(name)
                    .isEqualTo(Files.readAllBytes(pythonDir().resolve(name)));
        }
    }

    @Test
    void shardedWriteReadRoundTrip() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (int i = 0; i < 10; i++) {
            tensors.put("layer." + i + ".weight", ramp(i, 3, 5));
        }
        tensors.put("big", ramp(-1f, 40, 4));
        List<Path> written = SafeTensorsWriter.writeSharded(tmp, "adapter_model", tensors, null, 130);
        assertThat(written.get(written.size() - 1).getFileName().toString())
                .isEqualTo("adapter_model.safetensors.index.json");
        assertThat(written).hasSize(7); // 10 x 60 bytes at 2 per shard, plus "big" alone, plus the index
        try (TensorSource src = SafeTensors.openDirectory(tmp, "adapter_model")) {
            assertThat(src.keys()).containsExactlyInAnyOrderElementsOf(tensors.keySet());
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                assertThat(src.get(e.getKey()).contentEquals(e.getValue())).as(e.getKey()).isTrue();
            }
            assertThat(((ShardedSafeTensors) src).totalSize()).isEqualTo(10 * 60 + 640);
        }

        // saving again unsharded removes the stale shards and index
        List<Path> single = SafeTensorsWriter.writeSharded(tmp, "adapter_model", tensors, null, 1L << 30);
        assertThat(single).containsExactly(tmp.resolve("adapter_model.safetensors"));
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactly("adapter_model.safetensors");
        }
        try (TensorSource src = SafeTensors.openDirectory(tmp, "adapter_model")) {
            assertThat(src).isInstanceOf(SafeTensors.class);
            assertThat(src.getAll()).hasSize(11);
        }
    }

    @Test
    void indexJsonFormattedLikePython() {
        Map<String, String> weightMap = new java.util.TreeMap<>();
        weightMap.put("b", "x-00002-of-00002.safetensors");
        weightMap.put("a\u00e9\"", "x-00001-of-00002.safetensors");
        assertThat(SafeTensorsWriter.indexJson(42, weightMap)).isEqualTo("{\n  \"metadata\": {\n"
                + "    \"total_size\": 42\n  },\n  \"weight_map\": {\n"
                + "    \"a\\u00e9\\\"\": \"x-00001-of-00002.safetensors\",\n"
                + "    \"b\": \"x-00002-of-00002.safetensors\"\n  }\n}\n");
    }

    private Path copyPythonCheckpoint() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("ckpt"));
        try (Stream<Path> s = Files.list(pythonDir())) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Files.copy(p, dir.resolve(p.getFileName()));
            }
        }
        return dir;
    }

    private static String index(Path dir) throws IOException {
        return Files.readString(dir.resolve("model.safetensors.index.json"), StandardCharsets.UTF_8);
    }

    @Test
    void missingShardIsAnError() throws IOException {
        Path dir = copyPythonCheckpoint();
        Path index = dir.resolve("model.safetensors.index.json");
        Files.delete(dir.resolve("model-00002-of-00005.safetensors"));
        assertThatThrownBy(() -> SafeTensors.openModel(dir)).isInstanceOf(SafeTensorsException.class)
                .hasMessageStartingWith(index.toString())
                .hasMessageContaining("field 'weight_map'")
                .hasMessageContaining("shard file 'model-00002-of-00005.safetensors' does not exist")
                .hasMessageContaining("tensor '");
    }

    @Test
    void tensorMissingFromItsShardIsAnError() throws IOException {
        Path dir = copyPythonCheckpoint();
        Path index = dir.resolve("model.safetensors.index.json");
        String json = index(dir);
        String shardOfNorm = JsonParser.parseString(json).getAsJsonObject().getAsJsonObject("weight_map")
                .get("model.norm.weight").getAsString();
        String other = shardOfNorm.equals("model-00001-of-00005.safetensors")
                ? "model-00002-of-00005.safetensors" : "model-00001-of-00005.safetensors";
        Files.writeString(index, json.replace("\"model.norm.weight\": \"" + shardOfNorm + "\"",
                "\"model.norm.weight\": \"" + other + "\""));
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageStartingWith(index.toString())
                .hasMessageContaining("tensor 'model.norm.weight'")
                .hasMessageContaining("assigned to shard '" + other + "' but that file does not contain it");
    }

    @Test
    void invalidIndexes() throws IOException {
        Path dir = copyPythonCheckpoint();
        Path index = dir.resolve("model.safetensors.index.json");
        String json = index(dir);

        Files.writeString(index, json.replace("model-00001-of-00005.safetensors", "../model-00001-of-00005.safetensors"));
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("is not a relative path inside");

        Files.writeString(index, "{\"metadata\":{\"total_size\":1},\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageStartingWith(index.toString()).hasMessageContaining("duplicate key 'a'");

        Files.writeString(index, "{\"metadata\":{\"total_size\":1}}");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("field 'weight_map'").hasMessageContaining("missing");

        Files.writeString(index, "{\"metadata\":{\"total_size\":-1},\"weight_map\":{}}");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("field 'metadata.total_size'");

        Files.writeString(index, "{\"weight_map\":{\"a\":3}}");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("tensor 'a'").hasMessageContaining("expected a shard file name");

        Files.writeString(index, "[]");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("index must be a JSON object");
    }

    @Test
    void directoryWithoutCheckpoint() throws IOException {
        assertThatThrownBy(() -> SafeTensors.openModel(tmp)).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining(tmp.toString())
                .hasMessageContaining("neither model.safetensors nor model.safetensors.index.json");
        assertThatThrownBy(() -> SafeTensors.openModel(tmp.resolve("absent"))).isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining("is not a directory");
    }
}
