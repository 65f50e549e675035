package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.Fixtures;

/** Schedules, clipping and AdamW against torch + transformers (interop/make_optimizer_fixtures.py). */
class OptimizerParityTest {

    static float[] floats(JsonArray a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = a.get(i).getAsFloat();
        }
        return f;
    }

    @Test
    void schedulesMatchTransformers() throws Exception {
        JsonObject s = Fixtures.json(Fixtures.root().resolve("reference").resolve("optimizer.json"))
                .getAsJsonObject("schedules");
        int total = s.get("total").getAsInt();
        int warmup = s.get("warmup").getAsInt();
        double base = s.get("base_lr").getAsDouble();
        for (String kind : List.of("linear", "cosine", "constant", "constant_with_warmup")) {
            LrScheduler sch = new LrScheduler(LrScheduler.Type.parse(kind), warmup, total);
            JsonArray lrs = s.getAsJsonObject("lrs").getAsJsonArray(kind);
            for (int k = 0; k < total; k++) {
                assertThat(base * sch.factor(k)).as(kind + " step " + k).isCloseTo(lrs.get(k).getAsDouble(),
                        within(1e-12));
            }
        }
        assertThat(LrScheduler.warmupSteps(0, 0.1, 95)).isEqualTo(10);
    }

    @Test
    void adamWWithClippingAndWarmupMatchesTorch() throws Exception {
        JsonObject a = Fixtures.json(Fixtures.root().resolve("reference").resolve("optimizer.json"))
                .getAsJsonObject("adamw");
        float[] w = floats(a.getAsJsonObject("init").getAsJsonArray("w"));
        float[] b = floats(a.getAsJsonObject("init").getAsJsonArray("b"));
        JsonArray betas = a.getAsJsonArray("betas");
        AdamW adam = new AdamW(betas.get(0).getAsDouble(), betas.get(1).getAsDouble(), a.get("eps").getAsDouble());
        LrScheduler sch = new LrScheduler(LrScheduler.Type.LINEAR, a.get("warmup").getAsLong(),
                a.get("total").getAsLong());
        double lr = a.get("lr").getAsDouble();
        for (int k = 0; k < a.get("total").getAsInt(); k++) {
            JsonObject g = a.getAsJsonArray("grads").get(k).getAsJsonObject();
            float[] gw = floats(g.getAsJsonArray("w"));
            float[] gb = floats(g.getAsJsonArray("b"));
            double norm = AdamW.clipGradNorm(List.of(gw, gb), a.get("max_grad_norm").getAsDouble());
            assertThat(norm).isCloseTo(a.getAsJsonArray("norms").get(k).getAsDouble(), within(1e-5));
            adam.beginStep();
            double stepLr = lr * sch.factor(k);
            adam.update("w", w, gw, stepLr, a.getAsJsonObject("weight_decay").get("w").getAsDouble());
            adam.update("b", b, gb, stepLr, a.getAsJsonObject("weight_decay").get("b").getAsDouble());
            JsonObject want = a.getAsJsonArray("params").get(k).getAsJsonObject();
            assertThat(w).as("w after step " + (k + 1)).containsExactly(floats(want.getAsJsonArray("w")),
                    within(2e-6f));
            assertThat(b).as("b after step " + (k + 1)).containsExactly(floats(want.getAsJsonArray("b")),
                    within(2e-6f));
        }
    }
}
