package org.peft4j.safetensors;

import org.peft4j.testutil.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Reads files written by the Python safetensors library and checks every byte and value against its JSON. */
class SafeTensorsPythonFixturesTest {

    private static JsonObject expected() throws IOException {
        String json = Files.readString(Fixtures.safetensors("dtypes.json"), StandardCharsets.UTF_8);
        return JsonParser.parseString(json).getAsJsonObject();
    }

    @Test
    void readsEveryDtypeWithExactBytesAndValues() throws IOException {
        JsonObject tensors = expected().getAsJsonObject("tensors");
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"))) {
            assertThat(st.keys()).containsExactlyInAnyOrderElementsOf(tensors.keySet());
            for (Map.Entry<String, JsonElement> e : tensors.entrySet()) {
                String name = e.getKey();
                JsonObject exp = e.getValue().getAsJsonObject();
                Tensor t = st.get(name);
                DType dtype = DType.fromSafetensors(exp.get("dtype").getAsString());
                assertThat(t.dtype()).as(name).isEqualTo(dtype);
                assertThat(t.shape()).as(name).containsExactly(longs(exp.getAsJsonArray("shape")));
                assertThat(st.info(name).dtype()).isEqualTo(dtype);
                assertThat(st.info(name).shape()).containsExactly(t.shape());

                byte[] bytes = new byte[(int) t.byteSize()];
                t.data().get(bytes);
                assertThat(HexFormat.of().formatHex(bytes)).as(name).isEqualTo(exp.get("hex").getAsString());

                JsonArray values = exp.getAsJsonArray("values");
                assertThat(t.numel()).as(name).isEqualTo(values.size());
                for (int i = 0; i < values.size(); i++) {
                    JsonElement v = values.get(i);
                    if (dtype.isFloating()) {
                        double actual = t.getDouble(i);
                        String s = v.getAsString();
                        if (s.equals("nan")) {
                            assertThat(actual).as(name + "[" + i + "]").isNaN();
                        } else {
                            double want = s.equals("inf") ? Double.POSITIVE_INFINITY
                                    : s.equals("-inf") ? Double.NEGATIVE_INFINITY : v.getAsDouble();
                            // bit equality distinguishes -0.0 from 0.0
                            assertThat(Double.doubleToRawLongBits(actual)).as(name + "[" + i + "] = " + actual)
                                    .isEqualTo(Double.doubleToRawLongBits(want));
                        }
                    } else if (dtype == DType.U64) {
                        assertThat(new BigInteger(Long.toUnsignedString(t.getLong(i)))).as(name + "[" + i + "]")
                                .isEqualTo(v.getAsBigInteger());
                    } else {
                        assertThat(t.getLong(i)).as(name + "[" + i + "]").isEqualTo(v.getAsLong());
                    }
                }
            }
        }
    }

    @Test
    void scalarEmptyAndMetadata() throws IOException {
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"))) {
            Tensor scalar = st.get("scalar");
            assertThat(scalar.rank()).isZero();
            assertThat(scalar.numel()).isEqualTo(1);
            assertThat(scalar.getFloat(0)).isEqualTo(2.5f);

            Tensor empty = st.get("empty");
            assertThat(empty.shape()).containsExactly(0, 3);
            assertThat(empty.numel()).isZero();
            assertThat(empty.byteSize()).isZero();
            assertThat(st.info("empty").byteLength()).isZero();

            Map<String, String> meta = new LinkedHashMap<>();
            expected().getAsJsonObject("metadata").entrySet().forEach(e -> meta.put(e.getKey(),
                    e.getValue().getAsString()));
            assertThat(st.metadata()).containsExactlyInAnyOrderEntriesOf(meta);
            assertThat(st.metadata()).containsEntry("unicode", "na\u00efve \u2713");
        }
    }

    @Test
    void keysAreInFileOrder() throws IOException {
        List<String> order = new ArrayList<>();
        expected().getAsJsonArray("file_order").forEach(e -> order.add(e.getAsString()));
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"))) {
            assertThat(st.keys()).containsExactlyElementsOf(order);
            long previousEnd = 0;
            for (String k : st.keys()) {
                assertThat(st.info(k).begin()).isEqualTo(previousEnd);
                previousEnd = st.info(k).end();
            }
            assertThat(st.dataStart() + previousEnd).isEqualTo(Files.size(st.file()));
        }
    }

    @Test
    void tensorsAreReadOnlyViewsOfTheMapping() throws IOException {
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"))) {
            Tensor t = st.get("f32");
            ByteBuffer data = t.data();
            assertThat(t.isDirect()).isTrue();
            assertThat(data).isInstanceOf(MappedByteBuffer.class);
            assertThat(data.isReadOnly()).isTrue();
            assertThat(data.capacity()).isEqualTo(st.info("f32").byteLength());
        }
    }

    @Test
    void infoContainsFileOffsets() throws IOException {
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"))) {
            TensorInfo info = st.info("i32");
            assertThat(info.name()).isEqualTo("i32");
            assertThat(info.numel()).isEqualTo(4);
            assertThat(info.byteLength()).isEqualTo(16);
            assertThat(info.fileOffset()).isEqualTo(8 + st.headerLength() + info.begin());
            assertThat(st.headerLength() % 8).isZero();
            assertThat(st.contains("i32")).isTrue();
            assertThat(st.contains("nope")).isFalse();
            assertThatThrownBy(() -> st.info("nope")).isInstanceOf(NoSuchElementException.class)
                    .hasMessageContaining("nope").hasMessageContaining("dtypes.safetensors");
            assertThatThrownBy(() -> st.get("nope")).isInstanceOf(NoSuchElementException.class);
        }
    }

    @Test
    void tensorsOutliveCloseButGetAfterCloseFails() throws IOException {
        SafeTensors st = SafeTensors.open(Fixtures.safetensors("dtypes.safetensors"));
        Tensor t = st.get("i64");
        st.close();
        st.close();
        assertThat(t.getLong(3)).isEqualTo(Long.MAX_VALUE);
        assertThatThrownBy(() -> st.get("i64")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void readsReferenceFilesWithAndWithoutMetadata() throws IOException {
        try (SafeTensors st = SafeTensors.open(Fixtures.safetensors("reference.safetensors"));
                SafeTensors noMeta = SafeTensors.open(Fixtures.safetensors("reference_nometa.safetensors"))) {
            assertThat(st.metadata()).containsExactly(Map.entry("format", "pt"));
            assertThat(noMeta.metadata()).isEmpty();
            assertThat(noMeta.keys()).containsExactlyElementsOf(st.keys());
            Map<String, Tensor> expected = ReferenceTensors.build();
            assertThat(st.keys()).containsExactlyInAnyOrderElementsOf(expected.keySet());
            for (String k : st.keys()) {
                assertThat(st.get(k).contentEquals(expected.get(k))).as(k).isTrue();
                assertThat(noMeta.get(k).contentEquals(expected.get(k))).as(k).isTrue();
            }
        }
    }

    private static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }
}
