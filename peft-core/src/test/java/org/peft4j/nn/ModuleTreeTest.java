package org.peft4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.graph.Parameter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ModuleTreeTest {

    /** A small tree: block.{proj (Linear 3->2, bias), norm (RMSNorm 2)}, head (Linear 2->4 no bias). */
    static final class Toy extends Module {
        Toy() {
            Module block = registerModule("block", new Module() { });
            block.registerModule("proj", new Linear(3, 2, true, DType.F32));
            block.registerModule("norm", new RMSNorm(2, 1e-6, DType.F32));
            registerModule("head", new Linear(2, 4, false, DType.F32));
        }
    }

    @Test
    void namesFollowPyTorch() {
        Toy t = new Toy();
        assertThat(t.namedModules().keySet()).containsExactly("", "block", "block.proj", "block.norm", "head");
        assertThat(t.namedParameters().keySet())
                .containsExactly("block.proj.weight", "block.proj.bias", "block.norm.weight", "head.weight");
        assertThat(t.numParameters()).isEqualTo(6 + 2 + 2 + 8);
        assertThat(t.getParameter("block.proj.bias").shape()).containsExactly(2);
        assertThat(t.getParameter("block.nothing.bias")).isNull();
    }

    @Test
    void submodulesCanBeReplaced() {
        Toy t = new Toy();
        Linear replacement = new Linear(3, 2, false, DType.F32);
        t.setSubmodule("block.proj", replacement);
        assertThat(t.getSubmodule("block.proj")).isSameAs(replacement);
        assertThat(t.namedParameters()).doesNotContainKey("block.proj.bias");
        assertThatThrownBy(() -> t.getSubmodule("block.missing.x"))
                .hasMessageContaining("has no attribute `missing`");
        assertThatThrownBy(() -> t.setSubmodule("nope.proj", replacement))
                .hasMessageContaining("has no attribute `nope`");
    }

    @Test
    void tiedParametersAreListedOnceButLoadFromEitherName() {
        Toy t = new Toy();
        Linear head = (Linear) t.getSubmodule("head");
        Linear tiedHead = new Linear(2, 4, false, DType.F32);
        tiedHead.setWeight(head.weight());
        t.getSubmodule("block").registerModule("head2", tiedHead);
        // pre-order: the alias under "block" is met first and keeps the shared parameter, as in PyTorch
        assertThat(t.namedParameters()).containsKey("block.head2.weight").doesNotContainKey("head.weight");
        assertThat(t.namedParameters(false)).containsKeys("block.head2.weight", "head.weight");
        Map<String, Tensor> sd = new LinkedHashMap<>();
        sd.put("block.proj.weight", Tensor.zeros(DType.F32, 2, 3));
        sd.put("block.proj.bias", Tensor.zeros(DType.F32, 2));
        sd.put("block.norm.weight", Tensor.zeros(DType.F32, 2));
        sd.put("block.head2.weight", Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2));
        Module.LoadResult r = t.loadStateDict(sd, true);
        assertThat(r.missingKeys()).isEmpty();
        assertThat(head.weight().data().getFloat(7)).isEqualTo(8f);
        assertThat(t.stateDict()).containsKeys("head.weight", "block.head2.weight");
    }

    @Test
    void loadStateDictReportsMissingUnexpectedAndSizeMismatch() {
        Toy t = new Toy();
        Map<String, Tensor> sd = new LinkedHashMap<>();
        sd.put("block.proj.weight", Tensor.zeros(DType.F32, 2, 3));
        sd.put("block.extra", Tensor.zeros(DType.F32, 1));
        Module.LoadResult r = t.loadStateDict(sd, false);
        assertThat(r.missingKeys()).containsExactly("block.proj.bias", "block.norm.weight", "head.weight");
        assertThat(r.unexpectedKeys()).containsExactly("block.extra");
        assertThatThrownBy(() -> new Toy().loadStateDict(sd, true))
                .hasMessageContaining("Error(s) in loading state_dict for Toy")
                .hasMessageContaining("Missing key(s) in state_dict: \"block.proj.bias\"")
                .hasMessageContaining("Unexpected key(s) in state_dict: \"block.extra\"");
        Map<String, Tensor> bad = Map.of("head.weight", Tensor.zeros(DType.F32, 2, 4));
        assertThatThrownBy(() -> new Toy().loadStateDict(bad, false))
                .hasMessageContaining("size mismatch for head.weight: copying a param with shape [2, 4] from "
                        + "checkpoint, the shape in current model is [4, 2].");
    }

    @Test
    void loadingAnotherDtypeConvertsToTheParameterDtype() {
        Linear l = new Linear(2, 1, false, DType.F32);
        Tensor bf16 = Tensor.of(new float[] {1.5f, -2.25f}, 1, 2).to(DType.BF16);
        l.loadStateDict(Map.of("weight", bf16), true);
        assertThat(l.weight().data().dtype()).isEqualTo(DType.F32);
        assertThat(l.weight().data().toFloatArray()).containsExactly(1.5f, -2.25f);
    }

    @Test
    void trainableFlagsAndCounts() {
        Toy t = new Toy();
        t.requiresGrad(false);
        assertThat(t.numTrainableParameters()).isZero();
        ((Linear) t.getSubmodule("head")).weight().setTrainable(true);
        assertThat(t.numTrainableParameters()).isEqualTo(8);
        assertThat(new Parameter(DType.F32, 3).trainable()).isTrue();
    }
}
