package org.peft4j.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A subgraph that reads only frozen weights (e.g. {@code Transpose(lora_A)}, {@code MatMul(lora_B, lora_A)}) must
 * compute from the bound buffers, not from the placeholders in the ModelProto: constant folding would read the
 * placeholders (zeros) and bake them in.
 */
class FrozenWeightOnlySubgraphTest {
    @Test
    void weightOnlySubgraphUsesBoundData() {
        Parameter a = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)).setTrainable(false);
        Parameter b = new Parameter(Tensor.of(new float[] {1, -1, 2, 0.5f}, 2, 2)).setTrainable(false);
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(1), Dim.of(2));
        Value ba = g.matmul(g.param(b), g.param(a));
        g.output("y", g.matmul(x, ba));
        g.output("at", g.transpose(g.param(a), 1, 0));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.builder().build())) {
            Map<String, Tensor> out = rt.compile(g, p -> false).run(Map.of("x", Tensor.of(new float[] {1, 1}, 1, 2)));
            // B A = [[1-4, 2-5, 3-6], [2+2, 4+2.5, 6+3]] = [[-3,-3,-3],[4,6.5,9]]; x (B A) = [1, 3.5, 6]
            assertThat(out.get("y").toFloatArray()).containsExactly(1f, 3.5f, 6f);
            assertThat(out.get("at").toFloatArray()).containsExactly(1f, 4f, 2f, 5f, 3f, 6f);
        }
    }
}
