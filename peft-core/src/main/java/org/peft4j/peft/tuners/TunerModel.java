package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.nn.Module;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.tensor.Tensor;

/**
 * The tuner side of a PEFT model: one interface for every method, behind which sit two bases, as in PEFT:
 * {@link BaseTuner} for methods that inject layers into the base model's tree (LoRA, 4-bit LoRA, IA3, AdaLoRA) and
 * {@link PromptLearningTuner} for methods that learn prompts (prefix, prompt and P-tuning: no tree surgery, a prompt
 * encoder whose output feeds the model's input hooks). A {@code PeftModel} delegates adapter management, saving and
 * the forward transforms here, so adding a method touches only its own module plus a registration
 * ({@link PeftTuner}).
 *
 * <p>The forward of a PEFT model is {@code transformOutput(base.forward(transformInput(input)))}, and its training
 * loss {@code transformLoss(loss)}: a method that changes the inputs (virtual tokens, prefix key/values, a longer
 * attention mask) or the loss (dropped virtual positions, a regulariser) overrides those hooks.
 *
 * <p>Not thread-safe: adapter management changes the model in place.
 */
public interface TunerModel {
    /** The base model (with wrapper layers injected, for layer-injection methods). */
    PreTrainedModel model();

    /** Adapter configs by adapter name, in the order the adapters were added. */
    Map<String, PeftConfig> peftConfig();

    /** The active adapters. */
    List<String> activeAdapters();

    /**
     * Adds adapter {@code adapterName}. The first adapter becomes active; later ones are added inactive.
     *
     * @throws IllegalArgumentException with PEFT's messages when the config does not fit the model
     */
    void injectAdapter(String adapterName, PeftConfig config);

    /**
     * Activates one or several adapters.
     *
     * @throws IllegalArgumentException if a name is unknown, or the method cannot activate several
     */
    void setAdapter(List<String> names);

    /**
     * Deletes an adapter.
     *
     * @throws IllegalArgumentException for an unknown name (or one that cannot be deleted now)
     */
    void deleteAdapter(String name);

    /** Enables or disables every adapter (disabled adapters leave the base model's computation alone). */
    void enableAdapterLayers(boolean enabled);

    /** Whether some adapter (layer) is enabled now. */
    default boolean anyAdapterEnabled() {
        for (BaseTunerLayer l : tunerLayers().values()) {
            if (!l.disabled()) {
                return true;
            }
        }
        return false;
    }

    /** Whether some adapter (layer) is disabled now. */
    default boolean anyAdapterDisabled() {
        for (BaseTunerLayer l : tunerLayers().values()) {
            if (l.disabled()) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ the forward

    /**
     * The input the base model runs on: the identity for layer-injection methods; prompt learning prepends virtual
     * tokens, extends the attention mask or seeds the key/value cache. Runs while the PEFT model's forward is emitted.
     */
    default CausalLMInput transformInput(Graph g, CausalLMInput input) {
        return input;
    }

    /**
     * The output the PEFT model returns for {@code input} (as given to the PEFT model, before
     * {@link #transformInput}): prompt learning drops the virtual positions from the logits so they cover the input's
     * tokens again.
     */
    default CausalLMOutput transformOutput(Graph g, CausalLMInput input, CausalLMOutput output) {
        return output;
    }

    /** The training loss with the method's own terms (AdaLoRA's orthogonality regulariser); the identity by default. */
    default Value transformLoss(Graph g, Value loss) {
        return loss;
    }

    /**
     * Every parameter of the PEFT model under PEFT's full names ({@code base_model.model.model.layers.0...} for
     * layer injection; the prompt encoder's {@code prompt_encoder.<adapter>....} and the base model's
     * {@code base_model....} for prompt learning).
     */
    LinkedHashMap<String, Parameter> namedParameters();

    /**
     * What besides the base model's tree and parameters changes the graph the forward emits (e.g. which prompt
     * adapter is active, whether prompt learning is disabled); null when nothing does.
     */
    default Object forwardState() {
        return null;
    }

    // ------------------------------------------------------------------ merging (layer injection only)

    /**
     * Merges adapters into the base weights.
     *
     * @param adapterNames adapters to merge; null means the active ones
     * @throws UnsupportedOperationException with PEFT's message for methods that cannot merge
     */
    void mergeAdapter(List<String> adapterNames, boolean safeMerge);

    /** Undoes all merges, last merged first. */
    void unmergeAdapter();

    /**
     * Merges adapters into the base weights and returns the base model with its original architecture.
     *
     * @throws UnsupportedOperationException with PEFT's message for methods that cannot merge
     */
    PreTrainedModel mergeAndUnload(boolean safeMerge, List<String> adapterNames);

    /** Removes every adapter without merging and returns the original base model. */
    PreTrainedModel unload();

    // ------------------------------------------------------------------ state dicts

    /** The adapter's weights under the keys PEFT saves ({@code get_peft_model_state_dict}). */
    LinkedHashMap<String, Tensor> adapterStateDict(String name);

    /**
     * Loads saved weights into adapter {@code name} ({@code set_peft_model_state_dict}).
     *
     * @return the adapter's keys the file lacked and the file's keys that matched nothing, both as saved keys
     */
    Module.LoadResult loadAdapterStateDict(Map<String, Tensor> saved, String name);

    // ------------------------------------------------------------------ wrappers in the tree

    /** Every wrapper layer of a layer-injection method by dotted name (none for prompt learning). */
    default Map<String, BaseTunerLayer> tunerLayers() {
        Map<String, BaseTunerLayer> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : model().namedModules().entrySet()) {
            if (e.getValue() instanceof BaseTunerLayer) {
                out.put(e.getKey(), (BaseTunerLayer) e.getValue());
            }
        }
        return out;
    }

    /** Every {@code modules_to_save} wrapper by dotted name. */
    default Map<String, ModulesToSaveWrapper> modulesToSaveWrappers() {
        Map<String, ModulesToSaveWrapper> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : model().namedModules().entrySet()) {
            if (e.getValue() instanceof ModulesToSaveWrapper) {
                out.put(e.getKey(), (ModulesToSaveWrapper) e.getValue());
            }
        }
        return out;
    }

    /** The names of the adapters, in the order they were added. */
    default List<String> adapterNames() {
        return new ArrayList<>(peftConfig().keySet());
    }
}
