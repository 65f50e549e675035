package org.peft4j.models;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A causal language model as training, inference and generation see it: the one contract that both a base model
 * ({@link PreTrainedModel}) and a PEFT model satisfy. {@code TrainStep}, {@code Trainer}, {@code Generator},
 * {@link #logits} and {@code generate} depend on this interface only, never on a concrete model class, so a PEFT
 * method that changes the inputs (virtual tokens, prefix key/values, a longer attention mask) or the loss (dropped
 * virtual positions, a regulariser) does it in {@link #forward} and {@link #transformLoss} and every caller follows.
 *
 * <p>Implementations are not thread-safe for structural changes (adding, switching or merging adapters); emitting a
 * forward only reads the model.
 */
public interface CausalLM {
    /**
     * The transformer that runs underneath (itself for a base model): its config, dtype, layer count, key/value heads
     * and head size define the key/value cache, its {@code eos_token_id} the default stop tokens.
     */
    PreTrainedModel baseModel();

    /**
     * Emits the forward pass into {@code g}. The logits and hidden states returned cover exactly the positions of
     * {@code input.inputIds()} (a method that prepends virtual tokens drops them from the output), and with a
     * cache the present keys and values cover everything the next step must see (virtual positions included).
     * Parameter values are named by {@link #namedParameters()}.
     */
    CausalLMOutput forward(Graph g, CausalLMInput input);

    /**
     * The training loss after the model's own terms: the identity for most methods; a method with a regulariser
     * (AdaLoRA's orthogonality term) adds it here. Emitted into the same graph as the forward.
     */
    default Value transformLoss(Graph g, Value loss) {
        return loss;
    }

    /**
     * Every parameter {@link #forward} may read, by the names graphs, gradients and checkpoints use; a parameter
     * shared by two modules is listed once. {@link Parameter#trainable()} says which ones train.
     */
    LinkedHashMap<String, Parameter> namedParameters();

    /**
     * The parameters that get weight decay in training, transformers' rule: every parameter but biases and the
     * weights of normalisation layers.
     */
    Set<String> decayParameterNames();

    /**
     * A value equal for two calls exactly when {@link #forward} would emit the same graph over the same parameters
     * with the same trainable set: it changes when adapters are enabled, disabled, switched, merged or added, or a
     * parameter's trainable flag or storage object changes. A built training step compares it before every run.
     */
    Object graphState();

    /**
     * What a training checkpoint folder gets besides the trainer's own files (transformers' Trainer calls
     * {@code model.save_pretrained(checkpoint)}): nothing for a base model, whose trained weights the trainer saves;
     * the adapters ({@code adapter_model.safetensors}, {@code adapter_config.json}) for a PEFT model.
     */
    default void saveCheckpointFiles(Path dir) {
    }

    /** Logits [batch, seq, vocab] for int64 token ids [batch, seq] on the process-wide CPU runtime. */
    default Tensor logits(Tensor inputIds, Tensor attentionMask) {
        return logits(OrtRuntime.shared(), inputIds, attentionMask);
    }

    /**
     * Logits [batch, seq, vocab] for int64 token ids [batch, seq], computed on {@code runtime}.
     *
     * @param attentionMask int64 [batch, seq] (1 = token, 0 = padding) or null (every token counts)
     * @throws org.peft4j.Peft4jException for a token id outside the model's embedding
     * @throws UnsupportedOperationException for a bfloat16 model on the CPU: ONNX Runtime's CPU build has no bfloat16
     *     kernels for Add, Mul, MatMul, Gemm, ReduceMean, Softmax and most other ops these graphs use (and aborts the
     *     process on a bfloat16 LayerNormalization)
     */
    default Tensor logits(OrtRuntime runtime, Tensor inputIds, Tensor attentionMask) {
        if (baseModel().dtype() == DType.BF16 && runtime.device().kind() == org.peft4j.runtime.Device.Kind.CPU) {
            throw new UnsupportedOperationException("bfloat16 models cannot run on the CPU: ONNX Runtime's CPU build "
                    + "has no bfloat16 kernels for Add, Mul, MatMul, Gemm, ReduceMean, Softmax, LayerNormalization; load "
                    + "the model in float32 or float16, or run it on CUDA");
        }
        TokenIds.checkInEmbedding(inputIds, baseModel().vocabSize());
        Graph g = new Graph();
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        CausalLMInput in = CausalLMInput.of(ids);
        Map<String, Tensor> feed = new LinkedHashMap<>();
        feed.put("input_ids", inputIds);
        if (attentionMask != null) {
            in.attentionMask(g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("seq")));
            feed.put("attention_mask", attentionMask);
        }
        g.output("logits", forward(g, in).logits());
        try (CompiledGraph cg = runtime.compile(g, p -> false)) {
            return cg.run(feed).get("logits");
        }
    }

    /** The {@code eos_token_id} values of the base model's config (possibly empty). */
    default List<Long> eosTokenIds() {
        return baseModel().eosTokenIds();
    }
}
