package org.peft4j.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.util.Map;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class GraphTest {

    @Test
    void shapesAreInferredWithSymbolicDims() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of("batch"), Dim.of("seq"), Dim.of(8));
        Value w = g.param(new Parameter(DType.F32, 8, 8));
        Value q = g.reshape(x, 0, 0, 2, 4);
        assertThat(q.shape()).isEqualTo(Shape.of(Dim.of("batch"), Dim.of("seq"), Dim.of(2), Dim.of(4)));
        Value t = g.transpose(q, 0, 2, 1, 3);
        assertThat(t.shape().dims()).containsExactly(Dim.of("batch"), Dim.of(2), Dim.of("seq"), Dim.of(4));
        Value s = g.matmul(t, g.transpose(t, 0, 1, 3, 2));
        assertThat(s.shape().dims()).containsExactly(Dim.of("batch"), Dim.of(2), Dim.of("seq"), Dim.of("seq"));
        assertThat(g.add(x, g.scalar(1, DType.F32)).shape()).isEqualTo(x.shape());
        assertThat(g.reduceMean(x, true, -1).shape().dims()).containsExactly(Dim.of("batch"), Dim.of("seq"), Dim.of(1));
        assertThat(g.gather(w, g.input("ids", DType.I64, Dim.of("batch"), Dim.of("seq")), 0).shape().dims())
                .containsExactly(Dim.of("batch"), Dim.of("seq"), Dim.of(8));
        assertThat(g.concat(-1, x, x).shape().dim(-1)).isEqualTo(Dim.of(16));
        assertThat(g.slice(x, new long[] {2}, new long[] {6}, new long[] {-1}).shape().dim(-1)).isEqualTo(Dim.of(4));
        assertThat(g.split(x, -1, 3, 5).get(1).shape().dim(2)).isEqualTo(Dim.of(5));
        assertThatThrownBy(() -> Shape.broadcast(Shape.of(3, 4), Shape.of(5, 4))).hasMessageContaining("broadcast");
        assertThatThrownBy(() -> g.add(x, g.input("y", DType.F64, Dim.of(8)))).hasMessageContaining("dtype mismatch");
    }

    @Test
    void frozenParametersExportAsDatalessPlaceholders() {
        Graph g = new Graph();
        Parameter big = new Parameter(Tensor.zeros(DType.F32, 256, 256));
        Parameter trainable = new Parameter(Tensor.zeros(DType.F32, 256));
        g.nameParameters(Map.of("big.weight", big, "small.bias", trainable));
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(256));
        g.output("y", g.gemm(x, g.param(big), g.param(trainable), false, true));
        ModelProto m = OnnxExporter.export(g, p -> p == trainable);
        assertThat(m.getIrVersion()).isEqualTo(10);
        assertThat(m.getOpsetImport(0).getVersion()).isEqualTo(21);
        assertThat(m.getGraph().getInitializerList()).anySatisfy(t -> {
            assertThat(t.getName()).isEqualTo("big.weight");
            assertThat(t.getDimsList()).containsExactly(256L, 256L);
            assertThat(t.getRawData().size()).isZero();
        });
        assertThat(m.getGraph().getInputList()).extracting(vi -> vi.getName()).containsExactly("x", "small.bias");
        // The 256 KiB weight does not travel in the protobuf.
        assertThat(m.getSerializedSize()).isLessThan(2_000);
    }

    @Test
    void exportedOpsComputeWhatTheyShould() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of(2), Dim.of(3));
        Value sm = g.softmax(x, -1);
        g.output("sm", sm);
        g.output("rows", g.reduceSum(sm, false, -1));
        g.output("cumshape", g.shapeOf(x, 0, -1));
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            Map<String, Tensor> out = rt.compile(g, p -> false)
                    .run(Map.of("x", Tensor.of(new float[] {0, 0, 0, 1, 2, 3}, 2, 3)));
            float[] sm0 = out.get("sm").toFloatArray();
            assertThat(sm0[0]).isEqualTo(1f / 3);
            double e = Math.exp(1) + Math.exp(2) + Math.exp(3);
            assertThat((double) sm0[5]).isCloseTo(Math.exp(3) / e, org.assertj.core.api.Assertions.within(1e-6));
            assertThat(out.get("rows").toFloatArray()).containsExactly(new float[] {1f, 1f},
                    org.assertj.core.api.Assertions.within(1e-6f));
            assertThat(out.get("cumshape").toLongArray()).containsExactly(2L);
        }
    }
}
