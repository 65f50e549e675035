package org.peft4j.qlora;

import java.util.ArrayList;
import java.util.List;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/**
 * PEFT's {@code prepare_model_for_kbit_training}. Stateless; it changes the model it is given (one thread at a time).
 */
public final class KbitTraining {
    private KbitTraining() {
    }

    /**
     * Prepares a quantized model for training adapters on it, as PEFT's
     * {@code prepare_model_for_kbit_training(model, use_gradient_checkpointing)}: freezes every parameter (float ones
     * that were trainable included), casts every float16 / bfloat16 parameter to float32 (norms, embeddings, lm_head,
     * biases; packed 4-bit weights stay as they are) and, when the model is loaded in k-bit (holds a
     * {@link Linear4bit}) and {@code useGradientCheckpointing} is set, enables gradient checkpointing.
     *
     * <p>PEFT also makes the input embeddings' output require gradients ({@code enable_input_require_grads}) so that
     * reentrant checkpointing passes gradients through frozen layers. peft4j needs no such hook: its training graph
     * differentiates every path from the loss to a trainable value, whatever is frozen in between.
     *
     * @return {@code model}
     */
    public static PreTrainedModel prepareModelForKbitTraining(PreTrainedModel model,
            boolean useGradientCheckpointing) {
        boolean loadedInKbit = false;
        for (Module m : model.namedModules().values()) {
            loadedInKbit |= m instanceof Linear4bit;
        }
        List<Parameter> all = new ArrayList<>(model.namedParameters().values());
        for (Parameter p : all) {
            p.setTrainable(false);
        }
        for (Parameter p : all) {
            if (p.dtype() == DType.F16 || p.dtype() == DType.BF16) {
                Parameter f = p.hasData() ? new Parameter(p.data().to(DType.F32)) : new Parameter(DType.F32, p.shape());
                model.replaceParameter(p, f.setTrainable(false));
            }
        }
        if (loadedInKbit && useGradientCheckpointing) {
            model.gradientCheckpointingEnable();
        }
        return model;
    }

    /** {@link #prepareModelForKbitTraining(PreTrainedModel, boolean)} with gradient checkpointing, PEFT's default. */
    public static PreTrainedModel prepareModelForKbitTraining(PreTrainedModel model) {
        return prepareModelForKbitTraining(model, true);
    }
}
