package org.peft4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.DataFormatException;
import org.peft4j.data.HfTokenizer;
import org.peft4j.data.InstructionData;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.DeviceUnavailableException;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsException;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Issue 15: one unchecked hierarchy. A bad weights file, a bad config, a bad tokenizer file and a failing ONNX Runtime
 * run each surface as the documented {@link Peft4jException} subtype, with the file and field (or, for the runtime,
 * the graph and the inputs' shapes) in the message and in the accessors.
 */
class ExceptionHierarchyTest {
    @TempDir
    Path tmp;

    @Test
    void theNamedTypesSitUnderOneUncheckedBase() {
        assertThat(RuntimeException.class).isAssignableFrom(Peft4jException.class);
        assertThat(Peft4jException.class).isAssignableFrom(InvalidInputException.class);
        assertThat(InvalidInputException.class).isAssignableFrom(ConfigException.class);
        assertThat(InvalidInputException.class).isAssignableFrom(SafeTensorsException.class);
        assertThat(InvalidInputException.class).isAssignableFrom(DataFormatException.class);
        assertThat(Peft4jException.class).isAssignableFrom(RuntimeFailureException.class);
        assertThat(RuntimeFailureException.class).isAssignableFrom(DeviceUnavailableException.class);
    }

    @Test
    void aTruncatedSafetensorsFileIsAnInvalidInputNamingTheFile() throws Exception {
        Path p = tmp.resolve("model.safetensors");
        byte[] header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"
                .getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header); // 8 of the 16 data bytes
        Files.write(p, b.array());
        assertThatThrownBy(() -> SafeTensors.open(p).close()).isInstanceOf(InvalidInputException.class)
                .isInstanceOf(SafeTensorsException.class).hasMessageStartingWith(p + ": ")
                .satisfies(e -> assertThat(((InvalidInputException) e).file()).isEqualTo(p));
    }

    @Test
    void aConfigFieldOutOfRangeIsAConfigExceptionNamingFileAndField() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        String config = Files.readString(Fixtures.model("llama-mha").resolve("config.json"));
        assertThat(config).contains("\"hidden_size\": ");
        Files.writeString(dir.resolve("config.json"),
                config.replaceFirst("\"hidden_size\": [0-9]+", "\"hidden_size\": -1"));
        assertThatThrownBy(() -> AutoModelForCausalLM.fromPretrained(dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining(dir.resolve("config.json").toString()).hasMessageContaining("'hidden_size'")
                .satisfies(e -> {
                    ConfigException c = (ConfigException) e;
                    assertThat(c.file()).isEqualTo(dir.resolve("config.json"));
                    assertThat(c.field()).isEqualTo("hidden_size");
                    assertThat(c).hasCauseInstanceOf(IllegalArgumentException.class);
                });
    }

    @Test
    void aBadTokenizerFileIsAnInvalidInputNamingFileAndField() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("tok"));
        Files.copy(Fixtures.root().resolve("tokenizer").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": 5}");
        assertThatThrownBy(() -> HfTokenizer.load(dir).close()).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining(dir.resolve("tokenizer_config.json").toString())
                .hasMessageContaining("bos_token")
                .satisfies(e -> {
                    assertThat(((InvalidInputException) e).file()).isEqualTo(dir.resolve("tokenizer_config.json"));
                    assertThat(((InvalidInputException) e).field()).isEqualTo("bos_token");
                });
        // a tokenizer.json the Java check refuses before the native library sees it (a BPE dropout of 2, which
        // tokenizers would reject): file and field
        String json = Files.readString(dir.resolve("tokenizer.json"));
        assertThat(json).contains("\"dropout\": null");
        Files.delete(dir.resolve("tokenizer_config.json"));
        Files.writeString(dir.resolve("tokenizer.json"), json.replace("\"dropout\": null", "\"dropout\": 2"));
        assertThatThrownBy(() -> HfTokenizer.load(dir).close()).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString()).hasMessageContaining("`model.dropout`")
                .satisfies(e -> {
                    assertThat(((InvalidInputException) e).file()).isEqualTo(dir.resolve("tokenizer.json"));
                    assertThat(((InvalidInputException) e).field()).isEqualTo("model.dropout");
                });
    }

    @Test
    void aBadDataRecordIsAnInvalidInput() throws Exception {
        Path jsonl = tmp.resolve("bad.jsonl");
        Files.writeString(jsonl, "{\"instruction\":\"i\"}\n");
        assertThatThrownBy(() -> InstructionData.load(jsonl)).isInstanceOf(InvalidInputException.class)
                .isInstanceOf(DataFormatException.class).hasMessageContaining("bad.jsonl:1");
    }

    @Test
    void aFailingRunIsARuntimeFailureNamingTheGraphAndTheInputShapes() {
        Parameter w = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        Graph g = new Graph();
        g.nameParameters(Map.of("w", w));
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(3));
        g.output("y", g.matmul(x, g.transpose(g.param(w), 1, 0)));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults());
                CompiledGraph cg = rt.compile(g, p -> false)) {
            // the graph declares x as [n, 3]: ONNX Runtime refuses [2, 4] when it runs
            assertThatThrownBy(() -> cg.run(Map.of("x", Tensor.of(new float[8], 2, 4))))
                    .isInstanceOf(RuntimeFailureException.class)
                    .hasMessageStartingWith("ONNX Runtime run failed (graph with outputs [y] on cpu; inputs {x: "
                            + "FLOAT[2, 4]}): ")
                    .hasMessageContaining("Got invalid dimensions for input: x")
                    .hasCauseInstanceOf(OrtException.class);
        }
    }
}
