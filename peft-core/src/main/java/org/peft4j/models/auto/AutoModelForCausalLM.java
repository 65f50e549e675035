package org.peft4j.models.auto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.QuantizationConfig;
import org.peft4j.models.chatglm.ChatGLMForConditionalGeneration;
import org.peft4j.models.gemma2.Gemma2ForCausalLM;
import org.peft4j.models.gpt2.GPT2LMHeadModel;
import org.peft4j.models.llama.LlamaForCausalLM;
import org.peft4j.models.opt.OPTForCausalLM;
import org.peft4j.models.phi3.Phi3ForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.TensorSource;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds causal LMs from Hugging Face folders (config.json + safetensors, single file or sharded), or from a config
 * alone (shape-only, no weights allocated).
 */
public final class AutoModelForCausalLM {
    private static final Logger LOG = LoggerFactory.getLogger(AutoModelForCausalLM.class);
    private static final Map<String, BiFunction<ModelConfig, DType, PreTrainedModel>> FACTORIES = new TreeMap<>();

    static {
        FACTORIES.put("llama", LlamaForCausalLM::new);
        FACTORIES.put("mistral", LlamaForCausalLM::new);
        FACTORIES.put("qwen2", LlamaForCausalLM::new);
        FACTORIES.put("gpt2", GPT2LMHeadModel::new);
        FACTORIES.put("opt", OPTForCausalLM::new);
        FACTORIES.put("phi3", Phi3ForCausalLM::new);
        FACTORIES.put("qwen3", LlamaForCausalLM::new);
        FACTORIES.put("gemma2", Gemma2ForCausalLM::new);
        FACTORIES.put("chatglm", ChatGLMForConditionalGeneration::new);
    }

    private AutoModelForCausalLM() {
    }

    /**
     * The supported {@code model_type} values.
     *
     * @return the model types {@link #fromConfig} builds, in registration order
     */
    public static List<String> supportedModelTypes() {
        return new ArrayList<>(FACTORIES.keySet());
    }

    /**
     * A float32 shape-only model for the config.
     *
     * @param config the parsed config.json
     * @return the model, shape-only until weights are loaded
     */
    public static PreTrainedModel fromConfig(ModelConfig config) {
        return fromConfig(config, DType.F32);
    }

    /**
     * A shape-only model (parameters carry shapes, no storage) for the config.
     *
     * @param config the parsed config.json
     * @param dtype the parameters' dtype (transformers' {@code dtype})
     * @return the model, shape-only until weights are loaded
     * @throws IllegalArgumentException naming the config's file for an unknown {@code model_type} (listing the
     *     supported ones), and naming the file and the field for a value of the wrong type or out of range
     */
    public static PreTrainedModel fromConfig(ModelConfig config, DType dtype) {
        String type = config.modelType();
        BiFunction<ModelConfig, DType, PreTrainedModel> f = FACTORIES.get(type);
        if (f == null) {
            throw new IllegalArgumentException(config.source() + ": unsupported model_type '" + type
                    + "'; supported model types: " + String.join(", ", FACTORIES.keySet()));
        }
        return f.apply(config, dtype);
    }

    /**
     * Loads a float32 model from a Hugging Face folder; a folder whose config.json has a {@code quantization_config}
     * (e.g. saved by transformers + bitsandbytes in 4 bits) loads quantized, as {@link #fromPretrained(Path, DType,
     * QuantizationConfig)} describes.
     */
    public static PreTrainedModel fromPretrained(Path dir) {
        return fromPretrained(dir, DType.F32);
    }

    /**
     * {@link #fromPretrained(Path)} for a local folder when {@code idOrPath} exists (transformers' rule), otherwise
     * for a Hugging Face repo id ({@code "Qwen/Qwen2.5-0.5B-Instruct"}, optionally {@code "org/name@revision"})
     * resolved through the local Hugging Face cache ({@code HF_HUB_CACHE}, {@code HF_HOME}) and downloaded when
     * allowed ({@code HF_HUB_OFFLINE}, {@code HF_TOKEN}, {@code HF_ENDPOINT}); see {@link org.peft4j.hub.HfHub}.
     *
     * @throws org.peft4j.hub.HubException when the id cannot be resolved
     */
    public static PreTrainedModel fromPretrained(String idOrPath) {
        return fromPretrained(org.peft4j.hub.HfHub.resolveModel(idOrPath));
    }

    /** {@link #fromPretrained(Path, DType, QuantizationConfig)} in float32. */
    public static PreTrainedModel fromPretrained(Path dir, QuantizationConfig quantizationConfig) {
        return fromPretrained(dir, DType.F32, quantizationConfig);
    }

    /**
     * Loads a model from a Hugging Face folder. Weights of {@code dtype} are memory-mapped views (no copy); weights
     * of another floating dtype are converted.
     *
     * @throws org.peft4j.FileAccessException if config.json or the weights cannot be read, a weight is missing, or config.json is not
     *     strict JSON (naming the file)
     * @throws org.peft4j.ConfigException if a field of config.json has the wrong type or is out of range, naming the
     *     file and the field (caused by the {@link IllegalArgumentException} of {@link #fromConfig})
     */
    public static PreTrainedModel fromPretrained(Path dir, DType dtype) {
        return fromPretrained(dir, dtype, null);
    }

    /**
     * Loads a model from a Hugging Face folder, quantized as transformers' {@code from_pretrained(dir,
     * quantization_config=..., dtype=...)} does: the model is built shape-only in {@code dtype}, the quantization
     * replaces the layers it quantizes, then the checkpoint is read tensor by tensor from its memory mapping, each
     * float weight of a quantized layer being quantized as it is read (so the model never exists in float32 as a
     * whole; the parameters left in full precision get {@code dtype}, as transformers gives them its {@code dtype}).
     *
     * <p>A folder whose config.json has a {@code quantization_config} is pre-quantized: its config is used (found by
     * {@code quant_method} among the {@link QuantizationConfig.Provider}s on the classpath) and
     * {@code quantizationConfig} is ignored with transformers' warning.
     *
     * @param quantizationConfig the quantization to apply, or null for none
     * @throws org.peft4j.FileAccessException as {@link #fromPretrained(Path, DType)}
     * @throws org.peft4j.ConfigException as {@link #fromPretrained(Path, DType)}; also for a
     *     {@code quantization_config} whose {@code quant_method} no provider on the classpath reads, or that is
     *     invalid, naming config.json; a
     *     checkpoint entry a quantized layer cannot load gives an {@link IllegalArgumentException} naming the
     *     folder, the key and what was expected
     */
    public static PreTrainedModel fromPretrained(Path dir, DType dtype, QuantizationConfig quantizationConfig) {
        try {
            if (!Files.isDirectory(dir)) {
                throw new java.nio.file.NoSuchFileException(dir.toString(), null, "not a model folder");
            }
            org.peft4j.util.FolderSave.recover(dir); // completes a save_pretrained interrupted after its commit
            ModelConfig config = ModelConfig.load(dir.resolve("config.json"));
            PreTrainedModel model;
            QuantizationConfig quant = quantizationConfig;
            boolean preQuantized = false;
            try {
                QuantizationConfig saved = QuantizationConfigs.fromModelConfig(config);
                if (saved != null) {
                    if (quantizationConfig != null) {
                        LOG.warn("You passed `quantization_config` or equivalent parameters to `from_pretrained` but the "
                                + "model you're loading already has a `quantization_config` attribute. The "
                                + "`quantization_config` from the model will be used.");
                    }
                    quant = saved;
                    preQuantized = true;
                }
                model = fromConfig(config, dtype);
            } catch (IllegalArgumentException e) {
                throw new org.peft4j.ConfigException(dir.resolve("config.json"), e);
            }
            model.setNameOrPath(dir.toString());
            if (quant != null) {
                quant.processModelBeforeWeightLoading(model, preQuantized);
                model.setQuantizationConfig(quant);
            }
            try (TensorSource src = SafeTensors.openModel(dir)) {
                Map<String, Tensor> sd = new LinkedHashMap<>();
                String prefix = keyPrefix(model, src.keys());
                for (String k : src.keys()) {
                    sd.put(prefix + k, src.get(k));
                }
                loadChecked(model, sd, quant == null ? dir.toString() : checkpointFile(src, dir));
            }
            if (quant != null) {
                quant.processModelAfterWeightLoading(model);
            }
            return model;
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", dir, e);
        }
    }

    /** The checkpoint's file, for messages: the safetensors file, or a sharded checkpoint's index. */
    private static String checkpointFile(TensorSource src, Path dir) {
        if (src instanceof SafeTensors) {
            return ((SafeTensors) src).file().toString();
        }
        if (src instanceof org.peft4j.safetensors.ShardedSafeTensors) {
            return ((org.peft4j.safetensors.ShardedSafeTensors) src).indexFile().toString();
        }
        return dir.toString();
    }

    /** The base-model prefix to add to checkpoint keys saved without it (e.g. original GPT-2: {@code h.0...}). */
    private static String keyPrefix(PreTrainedModel model, List<String> keys) {
        String base = model.namedChildren().keySet().iterator().next();
        boolean anyWith = false;
        for (String k : keys) {
            if (k.startsWith(base + ".")) {
                anyWith = true;
                break;
            }
        }
        if (anyWith) {
            return "";
        }
        Module inner = model.child(base);
        Map<String, ?> innerNames = inner.namedParameters(false);
        for (String k : keys) {
            if (innerNames.containsKey(k)) {
                return base + ".";
            }
        }
        return "";
    }

    static void loadChecked(PreTrainedModel model, Map<String, Tensor> sd, String where) {
        Module.LoadResult r;
        try {
            r = model.loadStateDict(sd, false);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        List<String> missing = new ArrayList<>(r.missingKeys());
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(where + ": weights missing from the checkpoint: " + missing);
        }
        List<String> unexpected = new ArrayList<>();
        for (String k : r.unexpectedKeys()) {
            if (!k.endsWith("rotary_emb.inv_freq") && !k.endsWith(".attn.bias") && !k.endsWith(".attn.masked_bias")) {
                unexpected.add(k);
            }
        }
        if (!unexpected.isEmpty()) {
            LOG.warn("{}: checkpoint tensors not used by {}: {}", where, model.typeName(), unexpected);
        }
    }
}
