package org.peft4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Parameter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * {@link Module#extraState()} and {@link Module#loadOwnState}: a module's state-dict entries besides its parameters,
 * as torch's {@code _save_to_state_dict} / {@code _load_from_state_dict} (e.g. bitsandbytes' {@code weight.absmax}).
 */
class ModuleStateHooksTest {

    /** Stores w as int8 codes times a scale: entries {@code w} (I8) and {@code w.scale} (F32 [1]). */
    static final class Scaled extends Module {
        float scale = Float.NaN;

        Scaled() {
            registerParameter("w", new Parameter(DType.I8, 2));
        }

        @Override
        protected Map<String, Tensor> extraState() {
            return Float.isNaN(scale) ? Map.of() : Map.of("w.scale", Tensor.of(new float[] {scale}, 1));
        }

        @Override
        protected Set<String> loadOwnState(String prefix, Map<String, Tensor> entries) {
            Tensor s = entries.get("w.scale");
            if (s == null) {
                return Set.of();
            }
            if (s.numel() != 1) {
                throw new IllegalArgumentException(prefix + "w.scale: expected F32 [1], got " + s);
            }
            scale = s.getFloat(0);
            parameter("w").setData(entries.get("w"));
            return Set.of("w", "w.scale");
        }
    }

    static final class Tree extends Module {
        Tree() {
            Module a = registerModule("a", new Module() { });
            a.registerModule("s", new Scaled());
            a.registerModule("lin", new Linear(1, 1, false, DType.F32));
            registerModule("s", new Scaled());
        }
    }

    private static Map<String, Tensor> checkpoint(float scaleA, float scaleRoot) {
        Map<String, Tensor> sd = new LinkedHashMap<>();
        sd.put("a.s.w", Tensor.wrap(DType.I8, new long[] {2}, java.nio.ByteBuffer.wrap(new byte[] {3, -4})));
        sd.put("a.s.w.scale", Tensor.of(new float[] {scaleA}, 1));
        sd.put("a.lin.weight", Tensor.of(new float[] {7f}, 1, 1));
        sd.put("s.w", Tensor.wrap(DType.I8, new long[] {2}, java.nio.ByteBuffer.wrap(new byte[] {1, 2})));
        sd.put("s.w.scale", Tensor.of(new float[] {scaleRoot}, 1));
        return sd;
    }

    @Test
    void ownEntriesAreLoadedByTheModuleAndNotReportedUnexpected() {
        Tree t = new Tree();
        Module.LoadResult r = t.loadStateDict(checkpoint(0.5f, 2f), true);
        assertThat(r.missingKeys()).isEmpty();
        assertThat(r.unexpectedKeys()).isEmpty();
        assertThat(((Scaled) t.getSubmodule("a.s")).scale).isEqualTo(0.5f);
        assertThat(((Scaled) t.getSubmodule("s")).scale).isEqualTo(2f);
        assertThat(t.getParameter("a.s.w").data().getLong(1)).isEqualTo(-4);
        assertThat(t.getParameter("a.lin.weight").data().getFloat(0)).isEqualTo(7f);
    }

    @Test
    void stateDictListsExtrasAfterTheModulesParametersAsTorch() {
        Tree t = new Tree();
        t.loadStateDict(checkpoint(0.5f, 2f), true);
        assertThat(t.stateDict().keySet()).containsExactly("a.s.w", "a.s.w.scale", "a.lin.weight", "s.w",
                "s.w.scale");
        assertThat(t.stateDict().get("s.w.scale").getFloat(0)).isEqualTo(2f);
    }

    @Test
    void unconsumedEntriesFallBackToParameterMatching() {
        Tree t = new Tree();
        Map<String, Tensor> sd = checkpoint(0.5f, 2f);
        sd.remove("s.w.scale");
        Module.LoadResult r = t.loadStateDict(sd, false);
        assertThat(r.missingKeys()).isEmpty(); // s.w matched by name
        assertThat(((Scaled) t.getSubmodule("s")).scale).isNaN();
        sd.put("a.s.other", Tensor.zeros(DType.F32, 1));
        assertThat(new Tree().loadStateDict(sd, false).unexpectedKeys()).containsExactly("a.s.other");
    }

    @Test
    void hookErrorsAreCollectedWithTheKey() {
        Map<String, Tensor> sd = checkpoint(0.5f, 2f);
        sd.put("a.s.w.scale", Tensor.zeros(DType.F32, 2));
        assertThatThrownBy(() -> new Tree().loadStateDict(sd, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Error(s) in loading state_dict for Tree")
                .hasMessageContaining("a.s.w.scale: expected F32 [1]");
    }
}
