package org.peft4j.peft.tuners;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PEFT's default target-module tables of {@code peft.utils.constants} for the methods that come after LoRA: a model
 * type's modules used when a config leaves {@code target_modules} (and, for IA3, {@code feedforward_modules}) unset.
 * LoRA's own table is {@code LoraModel.DEFAULT_TARGET_MODULES} in peft-lora. The entries are PEFT 0.21.2's, checked
 * entry by entry against {@code interop/fixtures/peft-rules/target_mappings.json}; PEFT's regex-string entries (for
 * model types peft4j does not load) are left out. A model type that is absent has no default, as in PEFT (phi3 and
 * chatglm for IA3; mistral, phi3 and chatglm for AdaLoRA), so {@code target_modules} must be given.
 *
 * <p>Immutable and thread-safe.
 */
public final class TargetModulesMappings {
    /** {@code TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING}. */
    public static final Map<String, List<String>> IA3_TARGET_MODULES;
    /** {@code TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING}. */
    public static final Map<String, List<String>> IA3_FEEDFORWARD_MODULES;
    /** {@code TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING}. */
    public static final Map<String, List<String>> ADALORA_TARGET_MODULES;

    static {
        Map<String, List<String>> ia3Target = new LinkedHashMap<>();
        ia3Target.put("t5", List.of("k", "v", "wo"));
        ia3Target.put("mt5", List.of("k", "v", "wi_1"));
        ia3Target.put("gpt2", List.of("c_attn", "mlp.c_proj"));
        ia3Target.put("bloom", List.of("query_key_value", "mlp.dense_4h_to_h"));
        ia3Target.put("roberta", List.of("key", "value", "output.dense"));
        ia3Target.put("opt", List.of("q_proj", "k_proj", "fc2"));
        ia3Target.put("gptj", List.of("q_proj", "v_proj", "fc_out"));
        ia3Target.put("gpt_neox", List.of("query_key_value", "dense_4h_to_h"));
        ia3Target.put("gpt_neo", List.of("q_proj", "v_proj", "c_proj"));
        ia3Target.put("bart", List.of("q_proj", "v_proj", "fc2"));
        ia3Target.put("gpt_bigcode", List.of("c_attn", "mlp.c_proj"));
        ia3Target.put("llama", List.of("k_proj", "v_proj", "down_proj"));
        ia3Target.put("llama4", List.of("q_proj", "v_proj", "down_proj"));
        ia3Target.put("mistral", List.of("k_proj", "v_proj", "down_proj"));
        ia3Target.put("mixtral", List.of("k_proj", "v_proj", "w2"));
        ia3Target.put("bert", List.of("key", "value", "output.dense"));
        ia3Target.put("deberta-v2", List.of("key_proj", "value_proj", "output.dense"));
        ia3Target.put("deberta", List.of("in_proj", "output.dense"));
        ia3Target.put("RefinedWebModel", List.of("query_key_value", "dense_4h_to_h"));
        ia3Target.put("RefinedWeb", List.of("query_key_value", "dense_4h_to_h"));
        ia3Target.put("falcon", List.of("query_key_value", "dense_4h_to_h"));
        ia3Target.put("phi", List.of("q_proj", "v_proj", "fc2"));
        ia3Target.put("gemma", List.of("q_proj", "v_proj", "down_proj"));
        ia3Target.put("gemma2", List.of("q_proj", "v_proj", "down_proj"));
        ia3Target.put("gemma3_text", List.of("q_proj", "v_proj", "down_proj"));
        ia3Target.put("qwen2", List.of("q_proj", "v_proj", "down_proj"));
        ia3Target.put("qwen3", List.of("q_proj", "v_proj", "down_proj"));
        IA3_TARGET_MODULES = Collections.unmodifiableMap(ia3Target);
        Map<String, List<String>> ia3Feedforward = new LinkedHashMap<>();
        ia3Feedforward.put("t5", List.of("wo"));
        ia3Feedforward.put("mt5", List.of());
        ia3Feedforward.put("gpt2", List.of("mlp.c_proj"));
        ia3Feedforward.put("bloom", List.of("mlp.dense_4h_to_h"));
        ia3Feedforward.put("roberta", List.of("output.dense"));
        ia3Feedforward.put("opt", List.of("fc2"));
        ia3Feedforward.put("gptj", List.of("fc_out"));
        ia3Feedforward.put("gpt_neox", List.of("dense_4h_to_h"));
        ia3Feedforward.put("gpt_neo", List.of("c_proj"));
        ia3Feedforward.put("bart", List.of("fc2"));
        ia3Feedforward.put("gpt_bigcode", List.of("mlp.c_proj"));
        ia3Feedforward.put("llama", List.of("down_proj"));
        ia3Feedforward.put("llama4", List.of("down_proj"));
        ia3Feedforward.put("mistral", List.of("down_proj"));
        ia3Feedforward.put("mixtral", List.of("w2"));
        ia3Feedforward.put("bert", List.of("output.dense"));
        ia3Feedforward.put("deberta-v2", List.of("output.dense"));
        ia3Feedforward.put("deberta", List.of("output.dense"));
        ia3Feedforward.put("RefinedWeb", List.of("dense_4h_to_h"));
        ia3Feedforward.put("RefinedWebModel", List.of("dense_4h_to_h"));
        ia3Feedforward.put("falcon", List.of("dense_4h_to_h"));
        ia3Feedforward.put("phi", List.of("fc2"));
        ia3Feedforward.put("gemma", List.of("down_proj"));
        ia3Feedforward.put("gemma2", List.of("down_proj"));
        ia3Feedforward.put("gemma3_text", List.of("down_proj"));
        ia3Feedforward.put("qwen2", List.of("down_proj"));
        ia3Feedforward.put("qwen3", List.of("down_proj"));
        IA3_FEEDFORWARD_MODULES = Collections.unmodifiableMap(ia3Feedforward);
        Map<String, List<String>> adaloraTarget = new LinkedHashMap<>();
        adaloraTarget.put("t5", List.of("q", "k", "v", "o", "wi", "wo"));
        adaloraTarget.put("mt5", List.of("q", "k", "v", "o", "wi_0", "wi_1", "wo"));
        adaloraTarget.put("bart", List.of("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"));
        adaloraTarget.put("gpt2", List.of("c_attn"));
        adaloraTarget.put("bloom", List.of("query_key_value"));
        adaloraTarget.put("opt", List.of("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"));
        adaloraTarget.put("gptj", List.of("q_proj", "v_proj"));
        adaloraTarget.put("gpt_neox", List.of("query_key_value"));
        adaloraTarget.put("gpt_neo", List.of("q_proj", "v_proj"));
        adaloraTarget.put("llama", List.of("q_proj", "v_proj"));
        adaloraTarget.put("llama4", List.of("q_proj", "v_proj"));
        adaloraTarget.put("bert", List.of("query", "value"));
        adaloraTarget.put("roberta", List.of("query", "key", "value", "dense"));
        adaloraTarget.put("deberta-v2", List.of("query_proj", "key_proj", "value_proj", "dense"));
        adaloraTarget.put("gpt_bigcode", List.of("c_attn"));
        adaloraTarget.put("deberta", List.of("in_proj"));
        adaloraTarget.put("gemma", List.of("q_proj", "v_proj"));
        adaloraTarget.put("gemma2", List.of("q_proj", "v_proj"));
        adaloraTarget.put("gemma3_text", List.of("q_proj", "v_proj"));
        adaloraTarget.put("qwen2", List.of("q_proj", "v_proj"));
        adaloraTarget.put("qwen3", List.of("q_proj", "v_proj"));
        adaloraTarget.put("nemotron_h", List.of("q_proj", "k_proj", "v_proj", "o_proj"));
        ADALORA_TARGET_MODULES = Collections.unmodifiableMap(adaloraTarget);
    }

    private TargetModulesMappings() {
    }
}
