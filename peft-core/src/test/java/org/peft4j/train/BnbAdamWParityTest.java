package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * bitsandbytes' AdamW as transformers builds it for {@code adamw_8bit} and {@code paged_adamw_32bit}, against
 * bitsandbytes 0.50.2 on CPU (interop/make_optim_fixtures.py): parameters, 8-bit codes and block absmax after every
 * step.
 */
class BnbAdamWParityTest {
    static final Path DIR = Fixtures.root().resolve("optim");
    static final List<String> PARAMS = List.of("big", "vec", "small");

    static JsonObject meta() throws Exception {
        return Fixtures.json(DIR.resolve("bnb_adamw.json"));
    }

    static float[] map(JsonObject meta, boolean signed) {
        JsonArray a = meta.getAsJsonArray(signed ? "dynamic_map_signed" : "dynamic_map_unsigned");
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = a.get(i).getAsFloat();
        }
        return f;
    }

    static Map<String, Tensor> tensors() throws Exception {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(DIR.resolve("bnb_adamw.safetensors"))) {
            for (String k : st.keys()) {
                out.put(k, st.get(k).copy());
            }
        }
        return out;
    }

    static BnbAdamW optimizer(JsonObject meta, OptimizerNames name, Path pagingDir) {
        JsonArray betas = meta.getAsJsonArray("betas");
        return new BnbAdamW(name, betas.get(0).getAsDouble(), betas.get(1).getAsDouble(),
                meta.get("eps").getAsDouble(), Set.of(), pagingDir, map(meta, true), map(meta, false));
    }

    static byte[] bytes(Tensor t) {
        java.nio.ByteBuffer b = t.data().duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    @Test
    void eightBitMatchesBitsandbytes() throws Exception {
        JsonObject meta = meta();
        Map<String, Tensor> ref = tensors();
        Map<String, float[]> params = new LinkedHashMap<>();
        for (String p : PARAMS) {
            params.put(p, ref.get("init." + p).toFloatArray());
        }
        double lr = meta.get("lr").getAsDouble();
        JsonObject wd = meta.getAsJsonObject("weight_decay");
        try (BnbAdamW opt = optimizer(meta, OptimizerNames.ADAMW_8BIT, null)) {
            for (int s = 1; s <= meta.get("steps").getAsInt(); s++) {
                opt.beginStep();
                for (String p : PARAMS) {
                    opt.update(p, params.get(p), ref.get("grad." + s + "." + p).toFloatArray(), lr,
                            wd.get(p).getAsDouble());
                }
                Map<String, Tensor> state = opt.stateTensors();
                for (String p : PARAMS) {
                    float[] want = ref.get("8bit." + s + "." + p).toFloatArray();
                    float[] got = params.get(p);
                    int diff = 0;
                    double maxd = 0;
                    for (int i = 0; i < want.length; i++) {
                        if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                            diff++;
                            if (p.equals("vec")) {
                                System.out.println("  vec idx " + i);
                            }
                            maxd = Math.max(maxd, Math.abs(want[i] - got[i]) / Math.ulp(want[i]));
                        }
                    }
                    String msg = "step " + s + " " + p + " param diffs " + diff + " max ulps " + maxd;
                    if (ref.containsKey("8bit." + s + "." + p + ".absmax1")) {
                        for (int k = 1; k <= 2; k++) {
                            byte[] wc = bytes(ref.get("8bit." + s + "." + p + ".state" + k));
                            byte[] gc = bytes(state.get("state" + k + "." + p));
                            int cd = 0;
                            for (int i = 0; i < wc.length; i++) {
                                cd += wc[i] != gc[i] ? 1 : 0;
                            }
                            float[] wa = ref.get("8bit." + s + "." + p + ".absmax" + k).toFloatArray();
                            float[] ga = state.get("absmax" + k + "." + p).toFloatArray();
                            int ad = 0;
                            for (int i = 0; i < wa.length; i++) {
                                ad += Float.floatToIntBits(wa[i]) != Float.floatToIntBits(ga[i]) ? 1 : 0;
                            }
                            msg += " | state" + k + " code diffs " + cd + " absmax diffs " + ad;
                        }
                    } else {
                        for (int k = 1; k <= 2; k++) {
                            float[] w = ref.get("8bit." + s + "." + p + ".state" + k).toFloatArray();
                            float[] g = state.get("state" + k + "." + p).toFloatArray();
                            int d = 0;
                            for (int i = 0; i < w.length; i++) {
                                d += Float.floatToIntBits(w[i]) != Float.floatToIntBits(g[i]) ? 1 : 0;
                            }
                            msg += " | f32 state" + k + " diffs " + d;
                        }
                    }
                    System.out.println(msg);
                }
            }
        }
    }
}
