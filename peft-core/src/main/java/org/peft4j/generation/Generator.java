package org.peft4j.generation;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.models.CausalLM;
import org.peft4j.models.CausalLMInput;
import org.peft4j.models.CausalLMOutput;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Autoregressive generation with a key/value cache for any {@link CausalLM}: the prompt is run once, then each new
 * token costs one incremental step over the cached keys and values, which stay in ONNX Runtime memory between steps.
 * One decoding graph serves both: its past keys/values are empty on the first step, so a method that transforms the
 * input (virtual tokens) can tell the prompt step from the incremental ones by the past length.
 *
 * <p>Follows transformers' {@code generate}: position ids from the attention mask ({@code cumsum - 1}, 0 at padding),
 * left padding supported, finished sequences padded with {@code pad_token_id} (or the first eos id), stop when every
 * sequence has produced an eos token or {@code max_new_tokens} is reached. Returned sequences include the prompt.
 */
public final class Generator {
    private final CausalLM model;
    private final PreTrainedModel base;
    private final OrtRuntime runtime;

    /** A generator for any causal LM (a base model, or a PEFT model with its active adapters) on {@code runtime}. */
    public Generator(CausalLM model, OrtRuntime runtime) {
        this.model = model;
        this.base = model.baseModel();
        this.runtime = runtime;
    }

    /** A generator on the process-wide CPU runtime. */
    public Generator(CausalLM model) {
        this(model, OrtRuntime.shared());
    }

    /** Key input name of layer {@code i}'s cache. */
    public static String pastKey(int i) {
        return "past_key_values." + i + ".key";
    }

    /**
     * Value input name of layer {@code i}'s cache.
     *
     * @param i the layer index
     * @return the input name
     */
    public static String pastValue(int i) {
        return "past_key_values." + i + ".value";
    }

    /**
     * Key output name of layer {@code i}'s updated cache.
     *
     * @param i the layer index
     * @return the output name
     */
    public static String presentKey(int i) {
        return "present." + i + ".key";
    }

    /**
     * Value output name of layer {@code i}'s updated cache.
     *
     * @param i the layer index
     * @return the output name
     */
    public static String presentValue(int i) {
        return "present." + i + ".value";
    }

    /**
     * The decoding graph: inputs {@code input_ids}, {@code attention_mask} [batch, past + seq], {@code position_ids}
     * and the past keys/values; outputs {@code logits} of the last position [batch, vocab] and the present
     * keys/values.
     */
    public Graph decodingGraph() {
        Graph g = new Graph();
        g.nameParameters(model.namedParameters());
        Value ids = g.input("input_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        Value mask = g.input("attention_mask", DType.I64, Dim.of("batch"), Dim.of("total"));
        Value pos = g.input("position_ids", DType.I64, Dim.of("batch"), Dim.of("seq"));
        List<Value> keys = new ArrayList<>();
        List<Value> values = new ArrayList<>();
        for (int i = 0; i < base.numLayers(); i++) {
            Dim[] d = {Dim.of("batch"), Dim.of(base.numKvHeads()), Dim.of("past"), Dim.of(base.headDim())};
            keys.add(g.input(pastKey(i), base.dtype(), d));
            values.add(g.input(pastValue(i), base.dtype(), d));
        }
        CausalLMOutput out = model.forward(g, CausalLMInput.of(ids).attentionMask(mask).positionIds(pos)
                .past(keys, values));
        g.output("logits", g.gather(out.logits(), g.intScalar(-1), 1));
        for (int i = 0; i < base.numLayers(); i++) {
            g.output(presentKey(i), out.presentKeys().get(i));
            g.output(presentValue(i), out.presentValues().get(i));
        }
        return g;
    }

    /** Generates from one unpadded prompt. */
    public long[] generate(long[] prompt, GenerationConfig cfg) {
        long[] mask = new long[prompt.length];
        java.util.Arrays.fill(mask, 1);
        return generate(new long[][] {prompt}, new long[][] {mask}, cfg)[0];
    }

    /**
     * Generates continuations for a batch of (left-padded) prompts.
     *
     * @param inputIds [batch][len]
     * @param attentionMask [batch][len], 1 for tokens and 0 for padding; null for no padding (all ones), as
     *     transformers' {@code generate} without an attention mask and as the logits of a forward without one
     * @return [batch][len + generated], prompts included
     */
    public long[][] generate(long[][] inputIds, long[][] attentionMask, GenerationConfig cfg) {
        return generate(inputIds, attentionMask, cfg, g -> Map.of());
    }

    /**
     * As {@link #generate(long[][], long[][], GenerationConfig)}, feeding every decoding step the extra inputs
     * {@code extraInputs} gives once the decoding graph is built (e.g. per-row adapter masks, which the model declares
     * while it emits its forward).
     */
    public long[][] generate(long[][] inputIds, long[][] attentionMask, GenerationConfig cfg,
            java.util.function.Function<Graph, Map<String, Tensor>> extraInputs) {
        int batch = inputIds.length;
        int len = inputIds[0].length;
        org.peft4j.models.TokenIds.checkInEmbedding(inputIds, base.vocabSize());
        if (attentionMask == null) {
            attentionMask = new long[batch][len];
            for (long[] row : attentionMask) {
                java.util.Arrays.fill(row, 1);
            }
        }
        List<Long> eos = cfg.eosTokenIds().isEmpty() ? model.eosTokenIds() : cfg.eosTokenIds();
        Set<Long> eosSet = new HashSet<>(eos);
        long pad = cfg.padTokenId() != null ? cfg.padTokenId() : eos.isEmpty() ? 0 : eos.get(0);
        List<long[]> seqs = new ArrayList<>();
        List<long[]> masks = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            seqs.add(inputIds[b].clone());
            masks.add(attentionMask[b].clone());
        }
        Graph graph = decodingGraph();
        Map<String, OnnxTensorLike> extra = new LinkedHashMap<>();
        try (CompiledGraph cg = runtime.compile(graph, p -> false)) {
            for (Map.Entry<String, Tensor> e : extraInputs.apply(graph).entrySet()) {
                extra.put(e.getKey(), runtime.toOnnx(e.getValue()));
            }
            decode(cg, inputIds, seqs, masks, cfg, eosSet, pad, extra);
        } finally {
            for (OnnxTensorLike t : extra.values()) {
                ((OnnxTensor) t).close();
            }
        }
        return seqs.toArray(new long[0][]);
    }

    /** Runs the decoding steps, appending to {@code seqs} and {@code masks}. */
    private void decode(CompiledGraph cg, long[][] inputIds, List<long[]> seqs, List<long[]> masks,
            GenerationConfig cfg, Set<Long> eosSet, long pad, Map<String, OnnxTensorLike> extra) {
        int batch = inputIds.length;
        boolean[] finished = new boolean[batch];
        LogitsSampler sampler = new LogitsSampler(cfg);
        CompiledGraph.Outputs previous = null;
        try {
            long[][] stepIds = inputIds;
            for (int step = 0; step < cfg.maxNewTokens(); step++) {
                int total = seqs.get(0).length;
                if (previous != null && base.recomputeCacheForGeneration(total, cachedLength(previous))) {
                    // the model's prepare_inputs_for_generation drops the cache here (Phi-3's rope switch)
                    previous.close();
                    previous = null;
                    stepIds = seqs.toArray(new long[0][]);
                }
                int seq = stepIds[0].length;
                long[][] positions = positions(masks, seq);
                Map<String, OnnxTensorLike> feed = new LinkedHashMap<>();
                List<OnnxTensor> owned = new ArrayList<>();
                try {
                    owned.add(runtime.toOnnx(longs(stepIds)));
                    owned.add(runtime.toOnnx(longs(masks.toArray(new long[0][]))));
                    owned.add(runtime.toOnnx(longs(positions)));
                    feed.put("input_ids", owned.get(0));
                    feed.put("attention_mask", owned.get(1));
                    feed.put("position_ids", owned.get(2));
                    feed.putAll(extra);
                    for (int i = 0; i < base.numLayers(); i++) {
                        if (previous == null) {
                            OnnxTensor empty = runtime.toOnnx(Tensor.zeros(base.dtype(), batch, base.numKvHeads(), 0,
                                    base.headDim()));
                            owned.add(empty);
                            feed.put(pastKey(i), empty);
                            feed.put(pastValue(i), empty);
                        } else {
                            feed.put(pastKey(i), previous.onnx(presentKey(i)));
                            feed.put(pastValue(i), previous.onnx(presentValue(i)));
                        }
                    }
                    CompiledGraph.Outputs out = cg.runOnnx(feed);
                    if (previous != null) {
                        previous.close();
                    }
                    previous = out;
                } finally {
                    owned.forEach(OnnxTensor::close);
                }
                float[] logits = previous.get("logits").toFloatArray();
                int vocab = logits.length / batch;
                long[][] next = new long[batch][1];
                boolean allDone = true;
                for (int b = 0; b < batch; b++) {
                    float[] row = java.util.Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab);
                    long tok = finished[b] ? pad : sampler.next(row);
                    next[b][0] = tok;
                    seqs.set(b, append(seqs.get(b), tok));
                    masks.set(b, append(masks.get(b), 1));
                    if (!finished[b] && eosSet.contains(tok)) {
                        finished[b] = true;
                    }
                    allDone &= finished[b];
                }
                if (allDone) {
                    break;
                }
                stepIds = next;
            }
        } finally {
            if (previous != null) {
                previous.close();
            }
        }
    }

    /** The cached positions (virtual tokens included), as {@code past_key_values.get_seq_length()}. */
    private static long cachedLength(CompiledGraph.Outputs previous) {
        return previous.onnx(presentKey(0)).getInfo().getShape()[2];
    }

    /** transformers' position ids: cumsum(mask) - 1, with 0 at padded positions; the last {@code seq} columns. */
    static long[][] positions(List<long[]> masks, int seq) {
        long[][] out = new long[masks.size()][seq];
        for (int b = 0; b < masks.size(); b++) {
            long[] m = masks.get(b);
            long cum = 0;
            long[] all = new long[m.length];
            for (int t = 0; t < m.length; t++) {
                cum += m[t];
                all[t] = m[t] == 0 ? 0 : cum - 1;
            }
            System.arraycopy(all, m.length - seq, out[b], 0, seq);
        }
        return out;
    }

    /** Rows of equal length as an int64 [rows, cols] tensor. */
    private static Tensor longs(long[][] rows) {
        int m = rows[0].length;
        long[] flat = new long[rows.length * m];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * m, m);
        }
        return Tensor.of(flat, rows.length, m);
    }

    private static long[] append(long[] a, long v) {
        long[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = v;
        return out;
    }
}
