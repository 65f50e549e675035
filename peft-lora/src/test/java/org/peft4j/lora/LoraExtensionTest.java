package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Functional;
import org.peft4j.nn.Layer;
import org.peft4j.nn.LayerNorm;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;
import org.peft4j.nn.Module;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.TrainStep;

/**
 * Extending LoRA from outside: a custom {@link LoraDispatcher} puts LoRA on a test-only {@link LinearLike} layer whose
 * stored weight is not its weight ({@link ScaledLinear}: {@code W = scale * raw}), and a test-only
 * {@link LoraVariant} plugs into {@link LoraLinear}. The reference for every number is the same model with plain
 * {@link Linear} layers holding {@code W} and plain LoRA (checked against PEFT by the other tests): both models draw
 * identical adapter weights from the same seed.
 */
class LoraExtensionTest {
    /** {@code y = x (scale * raw)^T + b}: the stored {@code weight} is {@code W / scale}. */
    static class ScaledLinear extends Layer implements LinearLike {
        final double scale;
        private final long in;
        private final long out;

        ScaledLinear(Linear src, double scale) {
            this.scale = scale;
            this.in = src.inFeatures();
            this.out = src.outFeatures();
            float[] w = src.weight().data().to(DType.F32).toFloatArray();
            for (int i = 0; i < w.length; i++) {
                w[i] /= (float) scale;
            }
            registerParameter("weight", new Parameter(Tensor.of(w, out, in)));
            if (src.bias() != null) {
                registerParameter("bias", new Parameter(src.bias().data().copy()));
            }
        }

        Parameter raw() {
            return parameter("weight");
        }

        @Override
        public long inFeatures() {
            return in;
        }

        @Override
        public long outFeatures() {
            return out;
        }

        @Override
        public boolean fanInFanOut() {
            return false;
        }

        @Override
        public Parameter bias() {
            return parameter("bias");
        }

        @Override
        public boolean hasWeightData() {
            return raw().hasData();
        }

        @Override
        public Tensor denseWeight() {
            return scaled(raw().data(), scale);
        }

        @Override
        public Value denseWeight(Graph g) {
            return g.mulScalar(g.param(raw()), scale);
        }

        @Override
        public void setDenseWeight(Tensor w) {
            LinearLike.checkDenseShape(this, w);
            raw().setData(scaled(w.to(DType.F32), 1 / scale));
        }

        @Override
        public Value forward(Graph g, Value x) {
            Parameter b = bias();
            return Functional.linear(g, x, denseWeight(g), b == null ? null : g.param(b), true);
        }

        static Tensor scaled(Tensor t, double s) {
            float[] v = t.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] *= (float) s;
            }
            return Tensor.of(v, t.shape());
        }
    }

    /** A ScaledLinear that {@link TestServiceDispatcher}, found by the ServiceLoader, handles. */
    static final class ServiceScaledLinear extends ScaledLinear {
        ServiceScaledLinear(Linear src, double scale) {
            super(src, scale);
        }
    }

    /** LoRA on every ScaledLinear. */
    static final LoraDispatcher SCALED = (target, name, cfg, spec) -> target instanceof ScaledLinear
            ? new LoraLinear((ScaledLinear) target) : null;

    /** Doubles the adapter: forward, merge and unmerge all use {@code 2 s}. */
    static final class Doubled implements LoraVariant {
        final List<String> inits = new ArrayList<>();

        @Override
        public void init(LoraLinear layer, String adapter) {
            inits.add(adapter);
        }

        @Override
        public LoraMath.Merged merge(LoraLinear layer, String adapter, LoraMath.Target w, boolean check,
                boolean inPlace) {
            return LoraMath.addDelta(w.weight(), layer.loraA(adapter).weight().data(), layer.mergeB(adapter),
                    2 * layer.scaling().get(adapter), w.fanInFanOut(), +1, check, inPlace);
        }

        @Override
        public Tensor unmerge(LoraLinear layer, String adapter, LoraMath.Target w, boolean inPlace) {
            return LoraMath.addDelta(w.weight(), layer.loraA(adapter).weight().data(), layer.mergeB(adapter),
                    2 * layer.scaling().get(adapter), w.fanInFanOut(), -1, false, inPlace).weight;
        }

        @Override
        public Value forward(Graph g, LoraLinear layer, String adapter, Value dx, Value result) {
            return g.add(result, g.mulScalar(layer.loraOutput(g, adapter, dx), 2 * layer.scaling().get(adapter)));
        }
    }

    private final List<LoraDispatcher> registered = new ArrayList<>();

    private void register(LoraDispatcher d) {
        LoraModel.registerDispatcher(d);
        registered.add(d);
    }

    @AfterEach
    void unregister() {
        registered.forEach(LoraModel::unregisterDispatcher);
    }

    /** The llama fixture with q_proj and v_proj as ScaledLinear (same W). */
    static PreTrainedModel scaledModel(double scale) throws Exception {
        return scaledModel(scale, false);
    }

    static PreTrainedModel scaledModel(double scale, boolean service) throws Exception {
        PreTrainedModel m = Battery.model("llama-mha");
        for (Map.Entry<String, Module> e : new ArrayList<>(m.namedModules().entrySet())) {
            if (e.getKey().endsWith("q_proj") || e.getKey().endsWith("v_proj")) {
                Linear l = (Linear) e.getValue();
                m.setSubmodule(e.getKey(), service ? new ServiceScaledLinear(l, scale) : new ScaledLinear(l, scale));
            }
        }
        return m;
    }

    static LoraConfig.Builder config() {
        return LoraConfig.builder().r(8).loraAlpha(32).targetModules("q_proj", "v_proj").initLoraWeights(false);
    }

    static final String Q = "model.layers.0.self_attn.q_proj";

    @Test
    void customDispatcherPutsLoraOnALinearLikeLayerThatTrainsAndMergesThroughTheContract() throws Exception {
        register(SCALED);
        PeftModel ref = Peft.getPeftModel(Battery.model("llama-mha"), config().build());
        PeftModel pm = Peft.getPeftModel(scaledModel(0.37), config().build());
        PreTrainedModel m = pm.getBaseModel();
        LoraLinear q = (LoraLinear) m.getSubmodule(Q);
        assertThat(q.baseLayer()).isInstanceOf(ScaledLinear.class);
        assertThat(pm.tuner().tunerLayers()).hasSize(4);
        Tensor want = logits(ref);
        Tensor unmerged = logits(pm);
        assertThat(diff(unmerged, want)).isLessThan(2e-5);
        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
            assertThat(diff(logits(pm), unmerged)).as("the adapter changes the logits").isGreaterThan(1e-2);
        }

        // training: gradients exactly for the LoRA weights, equal to the reference model's
        Set<String> lora = LoraTrainingBatteryTest.matching(m, LoraTrainingBatteryTest.LORA);
        assertThat(lora).hasSize(8);
        TrainStep.Output out = LoraTrainingBatteryTest.assertTrainsExactly(m, lora);
        TrainStep.Output refOut = new TrainStep(ref.getBaseModel(), OrtRuntime.shared())
                .run(LoraTrainingBatteryTest.batch());
        assertThat(out.loss()).isCloseTo(refOut.loss(), org.assertj.core.data.Offset.offset(1e-5));
        for (String k : lora) {
            assertThat(diff(out.gradients().get(k), refOut.gradients().get(k))).as(k).isLessThan(1e-5);
        }

        // merge: the dense weight becomes W + s B A (the reference's merged weight), stored as raw = W' / scale
        ScaledLinear base = (ScaledLinear) q.baseLayer();
        Tensor raw0 = base.raw().data().copy();
        pm.mergeAdapter();
        ref.mergeAdapter();
        Tensor refW = ((LoraLinear) ref.getBaseModel().getSubmodule(Q)).baseWeight().data();
        assertThat(diff(base.denseWeight(), refW)).isLessThan(1e-6);
        assertThat(diff(logits(pm), unmerged)).isLessThan(2e-5);
        pm.unmergeAdapter();
        assertThat(diff(base.raw().data(), raw0)).isLessThan(1e-5);
        assertThat(diff(logits(pm), unmerged)).isLessThan(1e-5);

        PreTrainedModel unloaded = pm.mergeAndUnload();
        assertThat(unloaded.getSubmodule(Q)).isInstanceOf(ScaledLinear.class);
        assertThat(diff(logits(unloaded), unmerged)).isLessThan(2e-5);
    }

    /** DoRA's magnitude and forward norm read the dense weight: equal to DoRA on the plain model, merged or not. */
    @Test
    void doraOnALinearLikeLayerUsesItsDenseWeight() throws Exception {
        register(SCALED);
        PeftModel ref = Peft.getPeftModel(Battery.model("llama-mha"), config().useDora(true).build());
        PeftModel pm = Peft.getPeftModel(scaledModel(0.37), config().useDora(true).build());
        LoraLinear q = (LoraLinear) pm.getBaseModel().getSubmodule(Q);
        assertThat(q.loraVariant().get("default")).isSameAs(DoraVariant.INSTANCE);
        Tensor m = ((DoraMagnitude) q.magnitude().get("default")).weight().data();
        Tensor refM = ((DoraMagnitude) ((LoraLinear) ref.getBaseModel().getSubmodule(Q)).magnitude().get("default"))
                .weight().data();
        assertThat(diff(m, refM)).isLessThan(1e-5);
        // a magnitude away from the norm, so that the DoRA rescaling is not the identity
        float[] mv = m.toFloatArray();
        for (int i = 0; i < mv.length; i++) {
            mv[i] *= 1.5f;
        }
        for (PeftModel p : List.of(pm, ref)) {
            ((DoraMagnitude) ((LoraLinear) p.getBaseModel().getSubmodule(Q)).magnitude().get("default")).weight()
                    .setData(Tensor.of(mv, m.shape()));
        }
        Tensor unmerged = logits(pm);
        assertThat(diff(unmerged, logits(ref))).isLessThan(2e-5);
        pm.mergeAdapter();
        assertThat(diff(logits(pm), unmerged)).isLessThan(2e-5);
        pm.unmergeAdapter();
        assertThat(diff(logits(pm), unmerged)).isLessThan(2e-5);
    }

    /** PiSSA reads the dense weight and writes the residual back through the contract. */
    @Test
    void pissaOnALinearLikeLayerDecomposesTheDenseWeight() throws Exception {
        register(SCALED);
        PeftModel ref = Peft.getPeftModel(Battery.model("llama-mha"), config().initLoraWeights("pissa").build());
        PeftModel pm = Peft.getPeftModel(scaledModel(0.37), config().initLoraWeights("pissa").build());
        ScaledLinear base = (ScaledLinear) ((LoraLinear) pm.getBaseModel().getSubmodule(Q)).baseLayer();
        Tensor refResidual = ((LoraLinear) ref.getBaseModel().getSubmodule(Q)).baseWeight().data();
        assertThat(diff(base.denseWeight(), refResidual)).isLessThan(1e-5);
        assertThat(diff(logits(pm), logits(ref))).isLessThan(2e-5);
    }

    /** A variant chosen by a custom layer: computes, merges and unmerges as plain LoRA with twice the alpha. */
    @Test
    void aTestVariantPlugsIntoLoraLinear() throws Exception {
        Doubled doubled = new Doubled();
        register((target, name, cfg, spec) -> "twice".equals(name) && target instanceof Linear
                ? new LoraLinear((Linear) target) {
                    @Override
                    public void updateLayer(LoraAdapterSpec s) {
                        super.updateLayer(s.withVariant(doubled));
                    }
                } : null);
        PeftModel ref = Peft.getPeftModel(Battery.model("llama-mha"), config().loraAlpha(64).build(), "twice2");
        PeftModel pm = Peft.getPeftModel(Battery.model("llama-mha"), config().build(), "twice");
        LoraLinear q = (LoraLinear) pm.getBaseModel().getSubmodule(Q);
        assertThat(q.loraVariant()).containsEntry("twice", doubled);
        assertThat(doubled.inits).hasSize(4).containsOnly("twice");
        Tensor unmerged = logits(pm);
        assertThat(diff(unmerged, logits(ref))).isLessThan(2e-5);
        Tensor w0 = q.baseWeight().data().copy();
        pm.mergeAdapter();
        assertThat(diff(q.baseWeight().data(), w0)).isGreaterThan(1e-3);
        ref.mergeAdapter();
        assertThat(diff(q.baseWeight().data(), ((LoraLinear) ref.getBaseModel().getSubmodule(Q)).baseWeight()
                .data())).isLessThan(1e-6);
        assertThat(diff(logits(pm), unmerged)).isLessThan(2e-5);
        pm.unmergeAdapter();
        assertThat(diff(q.baseWeight().data(), w0)).isLessThan(1e-6);
    }

    @Test
    void dispatchersAreAskedRegisteredFirstAndUnsupportedTargetsKeepPeftsError() throws Exception {
        register(SCALED);
        List<LoraDispatcher> ds = LoraModel.dispatchers();
        assertThat(ds.get(0)).isSameAs(SCALED);
        assertThat(ds.get(ds.size() - 1)).isSameAs(DefaultLoraDispatcher.INSTANCE);
        assertThat(LoraModel.unregisterDispatcher(SCALED)).isTrue();
        assertThat(LoraModel.dispatchers()).doesNotContain(SCALED);
        // without a dispatcher for it, a ScaledLinear target is unsupported, with PEFT's message
        assertThatThrownBy(() -> Peft.getPeftModel(scaledModel(0.37), config().build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("Target module ")
                .hasMessageEndingWith(" is not supported. Currently, only the following modules are supported: "
                        + "`Linear`, `Embedding`, `Conv1D` (GPT-2).");
        assertThatThrownBy(() -> LoraModel.createNewModule(config().build(), "default", new LayerNorm(4, 1e-5,
                true, DType.F32), LoraAdapterSpec.fromConfig(config().build(), "default", "x", new java.util.Random(0))))
                .hasMessageContaining("is not supported");
    }

    /** A dispatcher listed in META-INF/services is asked after registered ones and before the default. */
    @Test
    void serviceLoadedDispatchersComeBetweenRegisteredOnesAndTheDefault() throws Exception {
        List<LoraDispatcher> ds = LoraModel.dispatchers();
        assertThat(ds).hasSize(2);
        assertThat(ds.get(0)).isInstanceOf(TestServiceDispatcher.class);
        register(SCALED);
        assertThat(LoraModel.dispatchers()).hasSize(3).element(1).isInstanceOf(TestServiceDispatcher.class);
        LoraModel.unregisterDispatcher(SCALED);
        PeftModel ref = Peft.getPeftModel(Battery.model("llama-mha"), config().build());
        PeftModel pm = Peft.getPeftModel(scaledModel(0.37, true), config().build());
        assertThat(((LoraLinear) pm.getBaseModel().getSubmodule(Q)).baseLayer())
                .isInstanceOf(ServiceScaledLinear.class);
        assertThat(diff(logits(pm), logits(ref))).isLessThan(2e-5);
    }
}
