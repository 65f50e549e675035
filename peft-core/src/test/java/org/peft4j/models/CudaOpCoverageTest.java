package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.autodiff.OpDef;
import org.peft4j.autodiff.Ops;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * CUDA is verified statically: every op our model graphs emit must have a definition in the op registry
 * ({@link Ops}) that says ONNX Runtime has a CUDA kernel for it covering opset 21 for float32. The flags live in the
 * definitions (peft-core's in {@code org.peft4j.autodiff.BuiltinOps}, which carries their provenance: ONNX Runtime's
 * generated kernel table {@code docs/OperatorKernels.md}, CUDA section, commit 001d12d, cross-checked against
 * {@code cuda_execution_provider.cc}; BitShift and BitwiseAnd are deliberately flagged CPU-only).
 */
class CudaOpCoverageTest {
    /** Whether the op ("Op" or "domain:Op") has a registered definition that says CUDA. */
    static boolean hasCudaKernel(String op) {
        int colon = op.lastIndexOf(':');
        String domain = colon < 0 ? "" : op.substring(0, colon);
        return Ops.find(domain, op.substring(colon + 1)).map(OpDef::hasCudaKernel).orElse(false);
    }

    @Test
    void cpuOnlyOpsAreFlaggedAndUnknownOpsAreNotCuda() {
        assertThat(hasCudaKernel("BitShift")).isFalse();
        assertThat(hasCudaKernel("BitwiseAnd")).isFalse();
        assertThat(Ops.get("", "BitShift").hasCudaKernel()).isFalse();
        assertThat(hasCudaKernel("NoSuchOp")).isFalse();
        assertThat(hasCudaKernel("Gemm")).isTrue();
        assertThat(hasCudaKernel("com.microsoft:FusedMatMul")).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2", "gpt2", "opt", "opt-proj", "phi3"})
    void everyEmittedOpHasACudaKernel(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model(name).resolve(
                "config.json")));
        Set<String> ops = new TreeSet<>();
        collect(new Generator(m).decodingGraph(), ops);
        Graph training = new Graph().setTraining(true);
        Value ids = training.input("input_ids", DType.I64, Dim.of("b"), Dim.of("s"));
        Value mask = training.input("attention_mask", DType.I64, Dim.of("b"), Dim.of("s"));
        m.forward(training, CausalLMInput.of(ids).attentionMask(mask));
        collect(training, ops);
        // the whole training step: forward in training mode (dropout masks), loss and backward
        TrainStep step = new TrainStep(m, OrtRuntime.shared());
        collect(step.graph(), ops);
        assertThat(ops).contains("Gemm", "Softmax", "ScatterND").allSatisfy(op -> assertThat(hasCudaKernel(op))
                .as("%s has a definition that says CUDA", op).isTrue());
        assertThat(step.hasDropout()).isEqualTo(name.equals("gpt2"));
        if (step.hasDropout()) {
            // the counter-based masks: integer hash ops, no ONNX Dropout (its RNG lives in the session)
            assertThat(ops).contains("Mod", "Size", "Range").doesNotContain("Dropout");
        }
    }

    private static void collect(Graph g, Set<String> ops) {
        for (Node n : g.nodes()) {
            ops.add(n.domain().isEmpty() ? n.opType() : n.domain() + ":" + n.opType());
        }
    }
}
