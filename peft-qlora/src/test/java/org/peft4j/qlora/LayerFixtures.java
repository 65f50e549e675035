package org.peft4j.qlora;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** Reads {@code interop/fixtures/layer} (made by {@code interop/make_layer_fixtures.py} with bitsandbytes). */
final class LayerFixtures {
    private LayerFixtures() {
    }

    static Path dir() {
        return Fixtures.root().resolve("layer");
    }

    static Map<String, Tensor> read(Path file) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    static Map<String, Tensor> layers() throws IOException {
        return read(dir().resolve("linear4bit.safetensors"));
    }

    static JsonObject layerMeta() throws IOException {
        return Fixtures.json(dir().resolve("linear4bit.json"));
    }

    /** bitsandbytes' quant state of a weight, from tensors {@code prefix + absmax, quant_map, nested_*, offset}. */
    static QuantState state(Map<String, Tensor> t, String prefix, QuantType qt, int blocksize, long[] shape) {
        Tensor absmax = t.get(prefix + "absmax");
        QuantState.Nested nested = null;
        if (t.containsKey(prefix + "nested_absmax")) {
            nested = new QuantState.Nested(t.get(prefix + "offset").getFloat(0), t.get(prefix + "nested_absmax"),
                    t.get(prefix + "nested_quant_map"), 256);
        }
        return new QuantState(qt, blocksize, shape, DType.F32, absmax, t.get(prefix + "quant_map"), nested);
    }

    /** A layer of case {@code name} holding bitsandbytes' packed weight, state and bias. */
    static Linear4bit layer(Map<String, Tensor> t, JsonObject meta, String name, DType computeDtype) {
        JsonObject m = meta.getAsJsonObject(name);
        long in = m.get("in_features").getAsLong();
        long out = m.get("out_features").getAsLong();
        boolean bias = m.get("bias").getAsBoolean();
        QuantType qt = QuantType.fromBnbName(m.get("quant_type").getAsString());
        int bs = m.get("blocksize").getAsInt();
        Linear4bit l = new Linear4bit(in, out, bias, qt, bs, m.get("double_quant").getAsBoolean(), computeDtype,
                DType.F32);
        l.setQuantized(t.get(name + ".packed"), state(t, name + ".", qt, bs, new long[] {out, in}));
        if (bias) {
            l.bias().setData(t.get(name + ".bias"));
        }
        return l;
    }
}
