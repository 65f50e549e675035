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

/** A session compiled without the CPU arena is its own cache entry and computes the same (hand-computed) values. */
class CpuArenaOptionTest {
    @Test
    void withoutArenaIsASeparateSessionWithTheSameResults() {
        Parameter w = new Parameter(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            CompiledGraph arena = rt.compile(graph(w), p -> false);
            CompiledGraph none = rt.compile(graph(w), p -> false, false);
            assertThat(none.sharesSessionWith(arena)).isFalse();
            assertThat(rt.compile(graph(w), p -> false, false).sharesSessionWith(none)).isTrue();
            assertThat(rt.compile(graph(w), p -> false, true).sharesSessionWith(arena)).isTrue();
            Map<String, Tensor> x = Map.of("x", Tensor.of(new float[] {1, 0, -1}, 1, 3));
            // [1 - 3, 4 - 6]
            assertThat(none.run(x).get("y").toFloatArray()).containsExactly(-2f, -2f);
            assertThat(arena.run(x).get("y").toFloatArray()).containsExactly(-2f, -2f);
        }
    }

    private static Graph graph(Parameter w) {
        Graph g = new Graph();
        g.nameParameters(Map.of("w", w));
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(3));
        g.output("y", g.gemm(x, g.param(w), null, false, true));
        return g;
    }
}
