package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.autodiff.OpDef;
import org.peft4j.autodiff.Ops;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.train.TrainStep;

/**
 * peft-core's {@code CudaOpCoverageTest} for 4-bit models: every op of a QLoRA model's decoding graph and training
 * step (4-bit base, LoRA adapter; both 4-bit kernels) has a registered definition that says ONNX Runtime has a CUDA
 * kernel: the unpacking is a Gather of a nibble-pair table, not BitShift / BitwiseAnd (CPU-only), and
 * {@code com.microsoft:MatMulBnb4} has CUDA kernels (contrib_ops/cuda/quantization/matmul_bnb4.cc).
 */
class QloraCudaOpCoverageTest {
    static boolean hasCudaKernel(String op) {
        int colon = op.lastIndexOf(':');
        String domain = colon < 0 ? "" : op.substring(0, colon);
        return Ops.find(domain, op.substring(colon + 1)).map(OpDef::hasCudaKernel).orElse(false);
    }

    @Test
    void everyOpOfFourBitGraphsHasACudaKernel() throws Exception {
        for (Linear4bit.Kernel k : Linear4bit.Kernel.values()) {
            Linear4bit.Kernel.forced = k;
            try {
                PreTrainedModel base = KbitTraining.prepareModelForKbitTraining(QloraFixture.base4bit(), false);
                PeftModel pm = PeftModel.fromPretrained(base, QloraFixture.dir().resolve("adapter"), "default", true);
                Set<String> ops = new TreeSet<>();
                collect(new Generator(pm.getBaseModel()).decodingGraph(), ops);
                try (TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared())) {
                    collect(step.graph(), ops);
                }
                assertThat(ops).contains("Gather", "Cast").doesNotContain("BitShift", "BitwiseAnd");
                if (k == Linear4bit.Kernel.MATMUL_BNB4) {
                    assertThat(ops).contains("com.microsoft:MatMulBnb4");
                }
                assertThat(ops).allSatisfy(op -> assertThat(hasCudaKernel(op)).as("%s (%s) has a definition that "
                        + "says CUDA", op, k).isTrue());
            } finally {
                Linear4bit.Kernel.forced = null;
            }
        }
    }

    private static void collect(Graph g, Set<String> ops) {
        for (Node n : g.nodes()) {
            ops.add(n.domain().isEmpty() ? n.opType() : n.domain() + ":" + n.opType());
        }
    }
}
