package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * bitsandbytes' state-dict form of 4-bit weights against the files transformers + bnb saved: reading then writing
 * every layer's entries gives back bnb's tensors byte for byte (the JSON included), saving a loaded model writes the
 * same file content and config, and damaged entries are refused with the file, the key and what was expected.
 */
class Bnb4bitStateDictTest {
    static final String Q = "model.layers.0.self_attn.q_proj.";

    @ParameterizedTest
    @ValueSource(strings = {"nf4-dq", "fp4"})
    void readThenAsDictGivesBnbsBytes(String name) throws Exception {
        try (SafeTensors f = SafeTensors.open(IoFixtures.folder(name).resolve("model.safetensors"))) {
            int layers = 0;
            for (String k : f.keys()) {
                if (!k.endsWith(".weight") || !f.contains(k + ".quant_map")) {
                    continue;
                }
                String prefix = k.substring(0, k.length() - "weight".length());
                Map<String, Tensor> entries = entries(f, prefix);
                Tensor w = f.get(k);
                long[] shape = shapeOf(f, prefix);
                Bnb4bitStateDict.Read r = Bnb4bitStateDict.read(prefix, entries, shape[0], shape[1]);
                assertThat(r.consumed()).containsExactlyInAnyOrderElementsOf(entries.keySet());
                assertThat(r.packed().contentEquals(w)).isTrue();
                for (Map.Entry<String, Tensor> e : Bnb4bitStateDict.asDict(r.state()).entrySet()) {
                    Tensor want = f.get(prefix + "weight." + e.getKey());
                    assertThat(e.getValue().shape()).as(e.getKey()).containsExactly(want.shape());
                    assertThat(e.getValue().contentEquals(want)).as(prefix + "weight." + e.getKey()).isTrue();
                }
                assertThat(Bnb4bitStateDict.asDict(r.state())).hasSize(entries.size() - 1);
                layers++;
            }
            assertThat(layers).isEqualTo(14);
        }
    }

    /** Python's repr of floats (values checked with CPython 3.11). */
    @Test
    void pythonFloatRepr() {
        assertThat(Bnb4bitStateDict.pythonFloatRepr((double) 0.05374833941459656f)).isEqualTo("0.05374833941459656");
        assertThat(Bnb4bitStateDict.pythonFloatRepr((double) 0.1f)).isEqualTo("0.10000000149011612");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(1e-05)).isEqualTo("1e-05");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(0.0001)).isEqualTo("0.0001");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(1.5e-07)).isEqualTo("1.5e-07");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(1e16)).isEqualTo("1e+16");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(1234567890123456.0)).isEqualTo("1234567890123456.0");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(123.0)).isEqualTo("123.0");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(-2.5)).isEqualTo("-2.5");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(0.0)).isEqualTo("0.0");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(-1.0e-300)).isEqualTo("-1e-300");
        assertThat(Bnb4bitStateDict.pythonFloatRepr(Double.NaN)).isEqualTo("NaN");
    }

    /** Saving a loaded bnb folder writes bnb's tensors and config back (the float parameters included). */
    @ParameterizedTest
    @ValueSource(strings = {"nf4-dq", "fp4"})
    void savePretrainedWritesWhatBnbSaved(String name, @TempDir Path tmp) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(IoFixtures.folder(name));
        m.savePretrained(tmp);
        try (SafeTensors want = SafeTensors.open(IoFixtures.folder(name).resolve("model.safetensors"));
                SafeTensors got = SafeTensors.open(tmp.resolve("model.safetensors"))) {
            assertThat(got.keys()).containsExactlyInAnyOrderElementsOf(want.keys());
            for (String k : want.keys()) {
                assertThat(got.get(k).dtype()).as(k).isEqualTo(want.get(k).dtype());
                assertThat(got.get(k).shape()).as(k).containsExactly(want.get(k).shape());
                assertThat(got.get(k).contentEquals(want.get(k))).as(k).isTrue();
            }
        }
        assertThat(Fixtures.json(tmp.resolve("config.json")).get("quantization_config"))
                .isEqualTo(BitsAndBytesConfigTest.savedQuantizationConfig(name));
    }

    @Test
    void damagedQuantStateIsRefusedNamingFileKeyAndExpectation(@TempDir Path tmp) throws Exception {
        String qs = Q + "weight.quant_state.bitsandbytes__nf4";
        expectError(tmp, sd -> sd.put(Q + "weight.absmax", Tensor.zeros(DType.U8, 63)),
                Q + "weight.absmax: expected U8 [64]", "got U8 [63]");
        expectError(tmp, sd -> sd.put(Q + "weight.absmax", Tensor.zeros(DType.F32, 64)),
                Q + "weight.absmax: expected U8 [64] (double-quantized absmax codes");
        expectError(tmp, sd -> sd.put(Q + "weight", Tensor.zeros(DType.U8, 2047, 1)),
                Q + "weight: expected U8 [2048]");
        expectError(tmp, sd -> sd.remove(Q + "weight.nested_quant_map"), Q + "weight.nested_quant_map: missing");
        expectError(tmp, sd -> sd.put(Q + "weight.quant_map", Tensor.zeros(DType.F32, 8)),
                Q + "weight.quant_map: expected F32 [16]");
        expectError(tmp, sd -> json(sd, qs, "{\"quant_type\": \"nf4\", \"blocksize\": 64"), qs,
                "malformed JSON");
        expectError(tmp, sd -> json(sd, qs, "{\"quant_type\": \"nf4\", \"blocksize\": 100, \"dtype\": \"float32\", "
                + "\"shape\": [64, 64], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": "
                + "0.05}"), qs + ": blocksize 100 is not allowed by bitsandbytes; expected one of [32, 64, 128");
        expectError(tmp, sd -> json(sd, qs, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", "
                + "\"shape\": [64, 32], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": "
                + "0.05}"), qs + ": shape: expected [64, 64]", "got [64, 32]");
        expectError(tmp, sd -> json(sd, qs, "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"int8\", "
                + "\"shape\": [64, 64]}"), qs + ": dtype: expected \"float32\", \"float16\" or \"bfloat16\"");
        expectError(tmp, sd -> {
            Tensor t = sd.remove(qs);
            sd.put(Q + "weight.quant_state.bitsandbytes__int4", t);
        }, Q + "weight.quant_state.bitsandbytes__int4: unknown quant state entry");
        expectError(tmp, sd -> sd.put(Q + "weight.quant_state.bitsandbytes__fp4", sd.get(qs)),
                Q + "weight: expected exactly one");
        byte[] notUtf8 = {(byte) 0xff, (byte) 0xfe};
        expectError(tmp, sd -> sd.put(qs, Tensor.wrap(DType.U8, new long[] {2}, ByteBuffer.wrap(notUtf8))), qs,
                "not UTF-8");
        expectError(tmp, sd -> sd.put(Q + "weight.extra", Tensor.zeros(DType.F32, 1)),
                Q + "weight: unexpected entries [" + Q + "weight.extra]");
        expectError(tmp, sd -> sd.put(Q + "weight", Tensor.zeros(DType.F32, 64, 32)), Q + "weight");
    }

    private static void json(Map<String, Tensor> sd, String key, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        sd.put(key, Tensor.wrap(DType.U8, new long[] {b.length}, ByteBuffer.wrap(b)));
    }

    private static void expectError(Path tmp, Consumer<Map<String, Tensor>> damage, String... fragments)
            throws Exception {
        Path dir = Files.createTempDirectory(tmp, "bad");
        Path src = IoFixtures.folder("nf4-dq");
        Map<String, Tensor> sd = new LinkedHashMap<>();
        try (SafeTensors f = SafeTensors.open(src.resolve("model.safetensors"))) {
            for (String k : f.keys()) {
                sd.put(k, f.get(k).copy());
            }
        }
        damage.accept(sd);
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), sd, SafeTensorsWriter.PT_METADATA);
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        var a = assertThatThrownBy(() -> AutoModelForCausalLM.fromPretrained(dir))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(dir.resolve("model.safetensors").toString());
        for (String f : fragments) {
            a.hasMessageContaining(f);
        }
    }

    private static Map<String, Tensor> entries(SafeTensors f, String prefix) throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : f.keys()) {
            if (k.startsWith(prefix + "weight")) {
                out.put(k.substring(prefix.length()), f.get(k));
            }
        }
        return out;
    }

    private static long[] shapeOf(SafeTensors f, String prefix) throws Exception {
        for (String k : f.keys()) {
            if (k.startsWith(prefix + "weight.quant_state.")) {
                String js = StandardCharsets.UTF_8.decode(f.get(k).data().duplicate()).toString();
                var a = com.google.gson.JsonParser.parseString(js).getAsJsonObject().getAsJsonArray("shape");
                return new long[] {a.get(0).getAsLong(), a.get(1).getAsLong()};
            }
        }
        throw new AssertionError(prefix);
    }
}
