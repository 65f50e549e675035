package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.peft4j.lora.Battery.diff;
import static org.peft4j.lora.Battery.logits;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Node;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Shape;
import org.peft4j.graph.Value;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.data.Batch;
import org.peft4j.train.TrainStep;

/**
 * PEFT's common battery, {@code test_training}, {@code test_training_layer_indexing} and
 * {@code test_inference_safetensors}, on the emitted training graph ({@link TrainStep#graph()}): PEFT asserts that
 * adapter (and modules_to_save) parameters get a {@code .grad} and that every base parameter's {@code .grad} is
 * None. Here:
 * <ul>
 *   <li>the graph has a gradient output exactly for the parameters the adapter trains (LoRA A/B, modules_to_save
 *       copies, biases for bias="all"/"lora_only"), and
 *   <li>no value on the backward path (a value that depends on the {@code labels} input: the loss and everything
 *       derived from its gradient; forward activations and weight-only subgraphs do not) has the static shape of a
 *       frozen weight, so no node computes a frozen weight's gradient ({@code dW = dY^T X} would have W's shape).
 *       This shape test is blind where a frozen weight shares its shape with a trainable one (e.g. norms and
 *       trained biases), which is why the graph outputs are checked too; a control shows it detects a weight
 *       gradient as soon as that weight is trainable.
 *   <li>one step's gradients for every trained tensor are finite and non-zero.
 * </ul>
 */
class LoraTrainingBatteryTest {

    static Batch batch() {
        Tensor ids = Battery.ids();
        long[] ones = new long[(int) ids.numel()];
        java.util.Arrays.fill(ones, 1);
        return new Batch(ids, Tensor.of(ones, ids.shape()), ids);
    }

    /** The fixed shapes of floating values on the backward path (those that depend on the labels input). */
    static Set<Shape> backwardShapes(Graph g) {
        Set<Value> dep = new HashSet<>();
        for (Value in : g.inputs()) {
            if (in.name().equals("labels")) {
                dep.add(in);
            }
        }
        assertThat(dep).hasSize(1);
        Set<Shape> shapes = new HashSet<>();
        for (Node n : g.nodes()) {
            if (n.inputs().stream().anyMatch(v -> v != null && dep.contains(v))) {
                for (Value out : n.outputs()) {
                    dep.add(out);
                    if (out.dtype().isFloating() && out.shape().isFullyFixed()) {
                        shapes.add(out.shape());
                    }
                }
            }
        }
        return shapes;
    }

    /** Gradient output names of the training graph, without the {@code grad.} prefix. */
    static Set<String> gradientOutputs(TrainStep step) {
        Set<String> out = new TreeSet<>();
        for (Value v : step.graph().outputs()) {
            if (v.name().startsWith("grad.")) {
                out.add(v.name().substring("grad.".length()));
            }
        }
        return out;
    }

    /**
     * Asserts the training graph differentiates exactly {@code expected} (inner-model names), computes no frozen
     * weight's gradient, and that one step gives finite non-zero gradients for all of them.
     */
    static TrainStep.Output assertTrainsExactly(PreTrainedModel model, Set<String> expected) {
        TrainStep step = new TrainStep(model, OrtRuntime.shared());
        assertThat(new TreeSet<>(step.trainable().keySet())).containsExactlyElementsOf(new TreeSet<>(expected));
        assertThat(gradientOutputs(step)).containsExactlyElementsOf(new TreeSet<>(expected));
        Set<Shape> trainableShapes = new HashSet<>();
        Map<String, Parameter> params = model.namedParameters();
        for (String k : expected) {
            trainableShapes.add(Shape.of(params.get(k).shape()));
        }
        Set<Shape> backward = backwardShapes(step.graph());
        int checked = 0;
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Shape s = Shape.of(e.getValue().shape());
            if (!e.getValue().trainable() && !trainableShapes.contains(s)) {
                assertThat(backward).as("a gradient-shaped value for frozen %s", e.getKey()).doesNotContain(s);
                checked++;
            }
        }
        assertThat(checked).isPositive();
        TrainStep.Output out = step.run(batch());
        assertThat(out.loss()).isFinite().isPositive();
        for (String k : expected) {
            Tensor grad = out.gradients().get(k);
            assertThat(grad.shape()).as(k).containsExactly(params.get(k).shape());
            assertThat(Battery.finite(grad)).as(k).isTrue();
            assertThat(Battery.maxAbs(grad)).as(k).isGreaterThan(0);
        }
        return out;
    }

    static Set<String> matching(PreTrainedModel m, String regex) {
        Set<String> out = new LinkedHashSet<>();
        for (String k : m.namedParameters().keySet()) {
            if (k.matches(regex)) {
                out.add(k);
            }
        }
        return out;
    }

    static final String LORA = ".*\\.lora_[AB]\\.default\\.weight";

    /** training: only LoRA A and B get gradients; every base weight is left out of the backward pass. */
    @ParameterizedTest
    @ValueSource(strings = {"llama-mha", "gpt2"})
    void onlyAdapterWeightsGetGradients(String name) throws Exception {
        PeftModel pm = Battery.peft(name);
        PreTrainedModel m = pm.getBaseModel();
        Set<String> lora = matching(m, LORA);
        assertThat(lora).hasSize(name.equals("gpt2") ? 4 : 8);
        assertTrainsExactly(m, lora);

        // control: once a base weight is trainable, its gradient shows up on the backward path
        String target = pm.tuner().tunerLayers().keySet().iterator().next() + ".base_layer.weight";
        Parameter w = m.getParameter(target);
        w.setTrainable(true);
        TrainStep withBase = new TrainStep(m, OrtRuntime.shared());
        assertThat(gradientOutputs(withBase)).contains(target);
        assertThat(backwardShapes(withBase.graph())).contains(Shape.of(w.shape()));
    }

    /** modules_to_save: the trainable copy gets a gradient, the original module does not. */
    @Test
    void modulesToSaveCopyGetsGradients() throws Exception {
        PeftModel pm = Peft.getPeftModel(Battery.model("llama-mha"), Battery.config().modulesToSave("lm_head")
                .build());
        PreTrainedModel m = pm.getBaseModel();
        Set<String> expected = matching(m, LORA);
        expected.add("lm_head.modules_to_save.default.weight");
        assertThat(m.namedParameters()).containsKey("lm_head.original_module.weight");
        assertTrainsExactly(m, expected);
    }

    /**
     * Bias modes on Qwen2 (q/k/v projections have biases; LoRA on q_proj and v_proj): "all" trains every bias,
     * including the untargeted k_proj's; "lora_only" only the wrapped layers' base biases; "none" none. The saved
     * adapter holds exactly those biases, under PEFT's keys.
     */
    @ParameterizedTest
    @ValueSource(strings = {"none", "all", "lora_only"})
    void biasModesTrainAndSaveTheRightBiases(String bias) throws Exception {
        PeftModel pm = Peft.getPeftModel(Battery.model("qwen2"), Battery.config().bias(bias).build());
        PreTrainedModel m = pm.getBaseModel();
        Set<String> biases;
        switch (bias) {
            case "all":
                biases = matching(m, ".*\\.bias");
                assertThat(biases).hasSize(6).anyMatch(k -> k.endsWith("k_proj.bias"));
                break;
            case "lora_only":
                biases = matching(m, ".*\\.(q|v)_proj\\.base_layer\\.bias");
                assertThat(biases).hasSize(4);
                break;
            default:
                biases = Set.of();
        }
        Set<String> expected = matching(m, LORA);
        expected.addAll(biases);
        assertTrainsExactly(m, expected);
        Set<String> savedBiases = new TreeSet<>();
        for (String k : pm.getPeftModelStateDict("default").keySet()) {
            if (k.endsWith(".bias")) {
                savedBiases.add(k);
            }
        }
        Set<String> want = new TreeSet<>();
        biases.forEach(b -> want.add("base_model.model." + b));
        assertThat(savedBiases).containsExactlyElementsOf(want);
    }

    /**
     * training_layer_indexing and inference_safetensors: with layers_to_transform=[0] only layer 0's adapter trains;
     * after an SGD step the adapter saves and reloads to the same logits (1e-6).
     */
    @Test
    void layerIndexedAdapterTrainsSavesAndReloads(@TempDir Path dir) throws Exception {
        PeftModel pm = Peft.getPeftModel(Battery.model("llama-mha"), Battery.config().layersToTransform(0).build());
        PreTrainedModel m = pm.getBaseModel();
        Set<String> expected = matching(m, "model\\.layers\\.0\\." + LORA);
        assertThat(expected).hasSize(4).isEqualTo(matching(m, LORA));
        Tensor before = logits(pm);
        TrainStep.Output out = assertTrainsExactly(m, expected);
        Map<String, Parameter> params = new LinkedHashMap<>(m.namedParameters());
        for (String k : expected) {
            float[] p = params.get(k).data().toFloatArray();
            float[] g = out.gradients().get(k).toFloatArray();
            for (int i = 0; i < p.length; i++) {
                p[i] -= 0.5f * g[i];
            }
            params.get(k).setData(Tensor.of(p, params.get(k).shape()));
        }
        Tensor trained = logits(pm);
        assertThat(diff(trained, before)).isGreaterThan(1e-4);
        pm.savePretrained(dir);
        PeftModel loaded = PeftModel.fromPretrained(Battery.model("llama-mha"), dir);
        assertThat(loaded.tuner().tunerLayers().keySet()).containsExactlyElementsOf(pm.tuner().tunerLayers().keySet());
        assertThat(diff(logits(loaded), trained)).isLessThan(1e-6);
    }
}
