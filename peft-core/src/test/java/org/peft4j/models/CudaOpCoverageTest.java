package org.peft4j.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * CUDA is verified statically: every op our model graphs emit must have a CUDA kernel in ONNX Runtime covering
 * opset 21 for float32. The set below was read from ONNX Runtime's generated kernel table
 * ({@code docs/OperatorKernels.md}, CUDA section, commit 001d12d) and cross-checked against
 * {@code cuda_execution_provider.cc}; BitShift and BitwiseAnd are deliberately absent (CPU only). Mod, Size and Pad
 * (int64 and float kernels at opset 13+) were checked in the same table.
 */
class CudaOpCoverageTest {
    static final Set<String> CUDA_OPS = Set.of(
            "Abs", "Add", "And", "Cast", "Clip", "Concat", "ConstantOfShape", "Cos", "Div", "Dropout", "Equal", "Erf",
            "Exp", "Expand", "Gather", "GatherElements", "Gemm", "Greater", "Identity", "LayerNormalization", "Less",
            "LessOrEqual", "Log", "LogSoftmax", "MatMul", "Max", "Min", "Mod", "Mul", "Neg", "Not", "OneHot", "Pad",
            "Pow", "Range", "Reciprocal", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape",
            "ScatterElements", "ScatterND", "Shape", "Sigmoid", "Sin", "Size", "Slice", "Softmax", "Split", "Sqrt",
            "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where", "com.microsoft:FusedMatMul");

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "qwen2", "gpt2"})
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
        assertThat(ops).contains("Gemm", "Softmax", "ScatterND").allSatisfy(op -> assertThat(CUDA_OPS).contains(op));
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
