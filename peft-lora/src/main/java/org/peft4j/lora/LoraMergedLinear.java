package org.peft4j.lora;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.LinearLike;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * peft4j extension: LoRA on part of a fused projection, in the loralib / lit-llama {@code MergedLinear} form. The
 * output of the wrapped layer is {@code len(enable_lora)} equal parts (e.g. q, k, v of GPT-2's {@code c_attn}); only
 * the enabled parts get an update. With {@code k} enabled parts:
 * <ul>
 *   <li>{@code lora_A} is [r * k, in] (one r-row block per enabled part),
 *   <li>{@code lora_B} is [out / len(enable_lora) * k, r] (one block of rows per enabled part),
 * </ul>
 * and part {@code j}, the {@code g}-th enabled one, receives {@code B_g A_g x * scaling}; disabled parts receive 0.
 */
public class LoraMergedLinear extends LoraLinear {
    private final List<Boolean> enableLora;
    private final int enabledParts;
    private final long partSize;

    /** LoRA on the enabled parts of the fused projection {@code base}. */
    public <L extends Layer & LinearLike> LoraMergedLinear(L base, List<Boolean> enableLora) {
        super(base);
        this.enableLora = new ArrayList<>(enableLora);
        int k = 0;
        for (Boolean b : enableLora) {
            k += b ? 1 : 0;
        }
        this.enabledParts = k;
        if (outFeatures() % enableLora.size() != 0) {
            throw new IllegalArgumentException("The length of enable_lora must divide out_features: "
                    + outFeatures() + " % " + enableLora.size() + " != 0");
        }
        this.partSize = outFeatures() / enableLora.size();
    }

    @Override
    public String typeName() {
        return "MergedLinear";
    }

    /**
     * PEFT's {@code enable_lora}: which of the fused projections get an adapter.
     *
     * @return a copy of the flags
     */
    public List<Boolean> enableLora() {
        return new ArrayList<>(enableLora);
    }

    /**
     * Adds adapter {@code spec.name()}: A [r k, in] and B [out / len(enable_lora) k, r].
     *
     * @throws IllegalArgumentException for a variant (DoRA), {@code lora_bias}, or an initialisation other than
     *     true, false and gaussian
     */
    @Override
    public void updateLayer(LoraAdapterSpec spec) {
        if (spec.variant() != null || spec.loraBias()) {
            throw new IllegalArgumentException("enable_lora (MergedLinear) does not support use_dora or lora_bias");
        }
        String name = spec.name();
        int rank = spec.r();
        Object init = spec.init();
        Random rng = spec.rng();
        putCommon(spec);
        Linear a = loraA().put(name, new Linear(inFeatures(), (long) rank * enabledParts, false, DType.F32));
        Linear b = loraB().put(name, new Linear(rank, partSize * enabledParts, false, DType.F32));
        a.weight().setData(LoraInit.uniform(rng, 1 / Math.sqrt(inFeatures()), (long) rank * enabledParts,
                inFeatures()));
        if (Boolean.FALSE.equals(init)) {
            b.weight().setData(LoraInit.uniform(rng, 1 / Math.sqrt(rank), partSize * enabledParts, rank));
        } else if (Boolean.TRUE.equals(init) || "gaussian".equals(init)) {
            if ("gaussian".equals(init)) {
                a.weight().setData(LoraInit.normal(rng, 1.0 / rank, (long) rank * enabledParts, inFeatures()));
            }
            b.weight().setData(Tensor.zeros(DType.F32, partSize * enabledParts, rank));
        } else {
            throw new IllegalArgumentException("enable_lora (MergedLinear) supports init_lora_weights true, false and "
                    + "gaussian, got " + init);
        }
        setAdapter(active, false);
    }

    /** {@code (dx A^T) B_full^T}, with {@code B_full} [out, r k] assembled from the blocks of B and zeros. */
    @Override
    public Value loraOutput(Graph g, String a, Value dx) {
        int rank = r.get(a);
        Value afterA = loraA(a).forward(g, dx);
        Value bw = g.param(loraB(a).weight());
        List<Value> blocks = enabledParts == 1 ? List.of(bw) : g.split(bw, 0, repeat(partSize, enabledParts));
        Value zeroBlock = g.constant(Tensor.zeros(DType.F32, partSize, rank));
        Value zeroRow = g.constant(Tensor.zeros(DType.F32, partSize, (long) rank * enabledParts));
        List<Value> rows = new ArrayList<>();
        int group = 0;
        for (Boolean on : enableLora) {
            if (!on) {
                rows.add(zeroRow);
                continue;
            }
            Value[] cols = new Value[enabledParts];
            for (int h = 0; h < enabledParts; h++) {
                cols[h] = h == group ? blocks.get(group) : zeroBlock;
            }
            rows.add(enabledParts == 1 ? cols[0] : g.concat(1, cols));
            group++;
        }
        Value bFull = g.concat(0, rows.toArray(new Value[0]));
        return g.matmul(afterA, g.transpose(bFull, 1, 0));
    }

    @Override
    public Tensor mergeB(String a) {
        int rank = r.get(a);
        float[] b = loraB(a).weight().data().toFloatArray();
        int cols = rank * enabledParts;
        float[] full = new float[(int) (outFeatures() * cols)];
        int group = 0;
        for (int part = 0; part < enableLora.size(); part++) {
            if (!enableLora.get(part)) {
                continue;
            }
            for (int i = 0; i < partSize; i++) {
                for (int c = 0; c < rank; c++) {
                    full[(int) ((part * partSize + i) * cols + group * rank + c)] =
                            b[(int) ((group * partSize + i) * rank + c)];
                }
            }
            group++;
        }
        return Tensor.of(full, outFeatures(), cols);
    }

    private static long[] repeat(long v, int n) {
        long[] out = new long[n];
        java.util.Arrays.fill(out, v);
        return out;
    }
}
