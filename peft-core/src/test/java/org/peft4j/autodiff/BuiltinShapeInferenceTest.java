package org.peft4j.autodiff;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.generation.Generator;
import org.peft4j.graph.Node;
import org.peft4j.graph.ShapeInference;
import org.peft4j.graph.ValueType;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * The built-in definitions' shape inference against the graph builder methods, which type the same ops with their
 * own code: for every node of a model's decoding graph and TrainStep graph (forward, loss and backward) whose op
 * definition has shape inference, the inferred output types equal the types the node was built with.
 */
class BuiltinShapeInferenceTest {

    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "gpt2"})
    void definitionsTypeEveryEmittedNodeLikeTheBuilder(String name) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(ModelConfig.load(Fixtures.model(name).resolve(
                "config.json")));
        List<Node> nodes = new ArrayList<>(new Generator(m).decodingGraph().nodes());
        nodes.addAll(new TrainStep(m, OrtRuntime.shared()).graph().nodes());
        Set<String> checked = new TreeSet<>();
        int count = 0;
        for (Node n : nodes) {
            ShapeInference s = Ops.find(n.domain(), n.opType()).flatMap(OpDef::shapeInference).orElse(null);
            if (s == null || (n.opType().startsWith("Reduce") && n.input(1) != null
                    && n.input(1).constant() == null)) {
                continue;
            }
            List<ValueType> built = n.outputs().stream().map(ValueType::of).toList();
            assertThat(s.infer(n.inputs(), n.attributes())).as("%s", n).isEqualTo(built);
            checked.add(n.opType());
            count++;
        }
        assertThat(count).isGreaterThan(500);
        assertThat(checked).contains("Add", "MatMul", "Gemm", "Transpose", "Softmax", "Concat", "Gather", "Unsqueeze",
                "Squeeze", "ReduceSum", "ReduceMean", "Where", "Cast", "Shape", "Equal");
    }
}
