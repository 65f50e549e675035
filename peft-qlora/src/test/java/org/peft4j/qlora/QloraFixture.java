package org.peft4j.qlora;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * The tiny 4-bit Llama of {@code interop/fixtures/layer/qlora/base}, saved by transformers + bitsandbytes, loaded the
 * way a 4-bit loader would (test-only; the library's loader is the io work): the decoder's linear layers become
 * {@link Linear4bit} (nf4, double quant, compute float32; lm_head stays float as transformers keeps it) holding the
 * packed weights and quant states of the checkpoint.
 */
final class QloraFixture {
    private QloraFixture() {
    }

    static Path dir() {
        return LayerFixtures.dir().resolve("qlora");
    }

    static Map<String, Tensor> expected() throws Exception {
        return LayerFixtures.read(dir().resolve("expected.safetensors"));
    }

    static JsonObject caseJson() throws Exception {
        return org.peft4j.testutil.Fixtures.json(dir().resolve("case.json"));
    }

    static PreTrainedModel base4bit() throws Exception {
        Path base = dir().resolve("base");
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(base.resolve("config.json")));
        List<String> linears = new ArrayList<>();
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) {
            if (e.getValue() instanceof Linear && e.getKey().contains(".layers.")) {
                linears.add(e.getKey());
            }
        }
        Map<String, Tensor> plain = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(base.resolve("model.safetensors"))) {
            for (String name : linears) {
                Linear l = (Linear) m.getSubmodule(name);
                Linear4bit q = new Linear4bit(l.inFeatures(), l.outFeatures(), l.bias() != null, QuantType.NF4, 64,
                        true, DType.F32, DType.F32);
                String w = name + ".weight.";
                JsonObject js = JsonParser.parseString(new String(bytes(st.get(w + "quant_state.bitsandbytes__nf4")),
                        StandardCharsets.UTF_8)).getAsJsonObject();
                QuantState s = new QuantState(QuantType.NF4, js.get("blocksize").getAsInt(), new long[] {
                    l.outFeatures(), l.inFeatures()}, DType.F32, st.get(w + "absmax").copy(),
                        st.get(w + "quant_map").copy(), new QuantState.Nested(js.get("nested_offset").getAsFloat(),
                                st.get(w + "nested_absmax").copy(), st.get(w + "nested_quant_map").copy(),
                                js.get("nested_blocksize").getAsInt()));
                q.setQuantized(st.get(name + ".weight").copy(), s);
                m.setSubmodule(name, q);
            }
            for (String k : st.keys()) {
                if (m.getParameter(k) != null && !(m.getParameter(k).dtype() == DType.U8)) {
                    plain.put(k, st.get(k).copy());
                }
            }
        }
        Module.LoadResult r = m.loadStateDict(plain, false);
        if (!r.missingKeys().stream().allMatch(k -> k.endsWith(".weight") && m.getParameter(k).dtype() == DType.U8)) {
            throw new IllegalStateException("missing " + r.missingKeys());
        }
        return m;
    }

    static byte[] bytes(Tensor t) {
        byte[] b = new byte[(int) t.numel()];
        t.data().duplicate().get(b);
        return b;
    }

    /** max |got - want| over positions whose mask is 1. */
    static double maxDiffOnTokens(Tensor got, Tensor want, Tensor mask) {
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        long[] mk = mask.toLongArray();
        int vocab = (int) want.dim(2);
        double max = 0;
        for (int pos = 0; pos < mk.length; pos++) {
            if (mk[pos] == 0) {
                continue;
            }
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, Math.abs(g[pos * vocab + v] - w[pos * vocab + v]));
            }
        }
        return max;
    }
}
