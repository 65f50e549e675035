package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.lora.LoftQConfig;
import org.peft4j.lora.LoraAdapterSpec;
import org.peft4j.lora.LoraConfig;
import org.peft4j.lora.LoraLinear;
import org.peft4j.nn.Linear;
import org.peft4j.peft.PeftConfigs;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * {@link LoftQ} and {@code init_lora_weights="loftq"} against PEFT 0.21.2's loftq_init run on the CPU
 * (interop/make_quant_fixtures.py, fixtures/quant/loftq.*): Q bit for bit after one iteration, the product B A,
 * and A / B up to the sign of each rank.
 */
class LoftQTest {
    static final Path DIR = Fixtures.root().resolve("quant");

    static Tensor get(String key) throws Exception {
        try (SafeTensors st = SafeTensors.open(DIR.resolve("loftq.safetensors"))) {
            return st.get(key).copy();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"b4_it1_r8", "b4_it2_r8", "b4_it5_r4", "b8_it1_r8", "b8_it2_r4"})
    void loftqInitMatchesPeft(String name) throws Exception {
        JsonObject c = Fixtures.json(DIR.resolve("loftq.json")).getAsJsonObject("cases").getAsJsonObject(name);
        int r = c.get("r").getAsInt();
        int iters = c.get("iter").getAsInt();
        Tensor w = get("weight");
        LoftQ.Result res = LoftQ.loftqInit(w, c.get("bits").getAsInt(), r, iters);
        float[] q = res.dequantizedWeight().toFloatArray();
        float[] qRef = get(name + ".q").toFloatArray();
        if (iters == 1) {
            assertThat(res.dequantizedWeight().data()).as("Q bit for bit").isEqualTo(get(name + ".q").data());
        } else {
            assertCloseQ(q, qRef);
        }
        assertProductAndFactors(res.loraA(), res.loraB(), name, iters == 1 ? 2e-6 : 2e-3);
        double fro = 0;
        float[] wa = w.toFloatArray();
        float[] ba = matmul(res.loraB().toFloatArray(), res.loraA().toFloatArray(), (int) w.dim(0), r,
                (int) w.dim(1));
        for (int i = 0; i < wa.length; i++) {
            double d = wa[i] - q[i] - ba[i];
            fro += d * d;
        }
        assertThat(Math.sqrt(fro)).as("||W - Q - BA||").isCloseTo(c.get("residual_fro").getAsDouble(),
                org.assertj.core.data.Percentage.withPercentage(iters == 1 ? 1e-3 : 1.0));
        if (iters == 1) {
            // LoftQ's point: the low-rank term reduces the error of plain quantization
            assertThat(Math.sqrt(fro)).isLessThan(c.get("quant_only_fro").getAsDouble());
        }
    }

    private static void assertProductAndFactors(Tensor a, Tensor b, String name, double tol) throws Exception {
        float[] ar = get(name + ".lora_A").toFloatArray();
        float[] br = get(name + ".lora_B").toFloatArray();
        int r = (int) a.dim(0);
        int in = (int) a.dim(1);
        int out = (int) b.dim(0);
        assertThat(a.shape()).isEqualTo(new long[] {r, in});
        assertThat(b.shape()).isEqualTo(new long[] {out, r});
        float[] ba = matmul(b.toFloatArray(), a.toFloatArray(), out, r, in);
        assertThat(Fixtures.maxAbsDiff(ba, get(name + ".BA").toFloatArray())).as("B A").isLessThan(tol);
        float[] av = a.toFloatArray();
        float[] bv = b.toFloatArray();
        for (int k = 0; k < r; k++) {
            double dot = 0;
            for (int j = 0; j < in; j++) {
                dot += (double) av[k * in + j] * ar[k * in + j];
            }
            float s = dot < 0 ? -1f : 1f;
            for (int j = 0; j < in; j++) {
                assertThat((double) Math.abs(s * av[k * in + j] - ar[k * in + j])).as("A[%d,%d]", k, j)
                        .isLessThan(tol * 10);
            }
            for (int i = 0; i < out; i++) {
                assertThat((double) Math.abs(s * bv[i * r + k] - br[i * r + k])).as("B[%d,%d]", i, k)
                        .isLessThan(tol * 10);
            }
        }
    }

    /**
     * After the first iteration Q quantizes W - L R, whose last bits differ from PEFT's (torch's float32 SVD and
     * matmul): every absmax moves by ulps, and a value near a code midpoint may take the neighbouring code.
     */
    static void assertCloseQ(float[] q, float[] qRef) {
        int far = 0;
        double maxDiff = 0;
        for (int i = 0; i < q.length; i++) {
            double d = Math.abs(q[i] - qRef[i]);
            maxDiff = Math.max(maxDiff, d);
            far += d > 1e-6 ? 1 : 0;
        }
        assertThat(far).as("elements of Q off PEFT's by more than 1e-6").isLessThanOrEqualTo(q.length / 100);
        assertThat(maxDiff).isLessThan(0.05);
    }

    static float[] matmul(float[] x, float[] y, int m, int k, int n) {
        float[] z = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    s += (double) x[i * k + p] * y[p * n + j];
                }
                z[i * n + j] = (float) s;
            }
        }
        return z;
    }

    @Test
    void loraLayerWithPeftsLoftqConfigIsInitialisedAsPeft(@TempDir Path dir) throws Exception {
        JsonObject cfgJson = Fixtures.json(DIR.resolve("loftq.json")).getAsJsonObject("adapter_config");
        Files.writeString(dir.resolve("adapter_config.json"), new GsonBuilder().create().toJson(cfgJson),
                StandardCharsets.UTF_8);
        LoraConfig cfg = (LoraConfig) PeftConfigs.fromPretrained(dir);
        assertThat(cfg.initLoraWeights()).isEqualTo("loftq");
        assertThat(cfg.loftqConfig()).isEqualTo(new LoftQConfig(4, 2));
        assertThat(cfg.loraAlpha()).isEqualTo(16.0);

        Tensor w = get("weight");
        Linear base = new Linear(64, 48, false, DType.F32);
        base.weight().setData(w.copy());
        LoraLinear layer = new LoraLinear(base);
        layer.updateLayer(LoraAdapterSpec.fromConfig(cfg, "default", "model.layers.0.self_attn.q_proj",
                new Random(0)));
        // PEFT: base weight = Q, lora_A = R, lora_B = L, no division by scaling (alpha / r = 2 here)
        float[] q = base.weight().data().toFloatArray();
        float[] qRef = get("b4_it2_r8.q").toFloatArray();
        assertCloseQ(q, qRef);
        assertProductAndFactors(layer.loraA("default").weight().data(), layer.loraB("default").weight().data(),
                "b4_it2_r8", 2e-3);
    }

    @Test
    void int8RoundTripIsBitExactWithBnb() throws Exception {
        // rows chosen so that codes change if the scale were 127 / rowmax instead of (1 / rowmax) * 127
        Tensor w = get("int8_probe.w");
        float[] q = LoftQ.int8RoundTrip(w.toFloatArray(), (int) w.dim(0), (int) w.dim(1));
        assertThat(Tensor.of(q, w.shape()).data()).isEqualTo(get("int8_probe.deq").data());
    }

    @Test
    void refusesAsPeft() throws Exception {
        Tensor w = get("weight");
        assertThatThrownBy(() -> LoftQ.loftqInit(w, 2, 4, 1)).hasMessage("Only nf4 and int8 quantization is supported");
        assertThatThrownBy(() -> LoftQ.loftqInit(w, 4, 4, 0))
                .hasMessage("Number of iterations must be greater than 0");
        assertThatThrownBy(() -> LoraConfig.builder().targetModules("q_proj").initLoraWeights("loftq").build())
                .hasMessageContaining("`loftq_config` must be specified when `init_lora_weights` is 'loftq'.");
    }
}
