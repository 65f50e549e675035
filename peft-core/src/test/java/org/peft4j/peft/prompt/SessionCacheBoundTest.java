package org.peft4j.peft.prompt;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.Tensor;

/**
 * Issue 16 section 4: creating and dropping many PeftModels over one shared base and runtime held 32 cached
 * sessions (with the weights they bind) however large. The cache is bounded by estimated bytes, and closing a
 * PeftModel releases the sessions that bind its weights. Counted in sessions and bytes, not resident size.
 */
class SessionCacheBoundTest {
    static final Tensor X = Tensor.of(new long[] {5, 9, 17, 4}, 1, 4);

    static long weightBytes(PreTrainedModel m) {
        long n = 0;
        for (Parameter p : m.namedParameters().values()) {
            n += p.data().byteSize();
        }
        return n;
    }

    @Test
    void closingPeftModelsReleasesTheirSessions() throws Exception {
        PreTrainedModel base = PromptLearningCoreTest.base();
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optMaxCachedSessions(1000)
                .optMaxCachedSessionBytes(Long.MAX_VALUE).build())) {
            for (int i = 0; i < 25; i++) {
                PeftModel pm = Peft.getPeftModel(base, new VirtualTokensConfig(2 + i % 3));
                pm.logits(rt, X, null);
                assertThat(rt.cachedSessions()).isEqualTo(1);
                pm.close();
                assertThat(rt.cachedSessions()).isZero();
                assertThat(rt.openSessions()).isZero();
                assertThat(rt.cachedSessionBytes()).isZero();
            }
            // without close, every model keeps its session (the leak of the issue, here with an unbounded cache)
            for (int i = 0; i < 5; i++) {
                Peft.getPeftModel(base, new VirtualTokensConfig(2)).logits(rt, X, null);
            }
            assertThat(rt.cachedSessions()).isEqualTo(5);
            // the base model's weights are shared: a model closed does not drop sessions of the others' weights
            // beyond its own
            PeftModel kept = Peft.getPeftModel(base, new VirtualTokensConfig(3));
            float[] before = kept.logits(rt, X, null).toFloatArray();
            Peft.getPeftModel(base, new VirtualTokensConfig(3)).close();
            assertThat(rt.cachedSessions()).isEqualTo(6);
            assertThat(kept.logits(rt, X, null).toFloatArray()).containsExactly(before);
        }
    }

    @Test
    void theCacheIsBoundedByEstimatedBytes() throws Exception {
        PreTrainedModel base = PromptLearningCoreTest.base();
        long weights = weightBytes(base);
        long perModel;
        try (OrtRuntime probe = new OrtRuntime(RuntimeOptions.defaults())) {
            Peft.getPeftModel(base, new VirtualTokensConfig(2)).logits(probe, X, null);
            // one session: the weights it binds (the base's and the prompt's) plus its ONNX model, under 1 MB
            assertThat(probe.cachedSessionBytes()).isGreaterThan(weights).isLessThan(weights + (1 << 20));
            perModel = probe.cachedSessionBytes() - weights;
            Peft.getPeftModel(base, new VirtualTokensConfig(2)).logits(probe, X, null);
            // the base weights bound by both count once
            assertThat(probe.cachedSessionBytes()).isEqualTo(weights + 2 * perModel);
        }
        long limit = weights + 3 * perModel;
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().optMaxCachedSessions(1000)
                .optMaxCachedSessionBytes(limit).build())) {
            for (int i = 0; i < 9; i++) {
                Peft.getPeftModel(base, new VirtualTokensConfig(2)).logits(rt, X, null);
                assertThat(rt.cachedSessionBytes()).isLessThanOrEqualTo(limit);
                assertThat(rt.cachedSessions()).isBetween(1, 3);
            }
            assertThat(rt.cachedSessions()).isEqualTo(3);
            assertThat(rt.openSessions()).isEqualTo(3);
        }
    }
}
