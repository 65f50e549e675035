package org.peft4j.train;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.peft4j.quant.DynamicMap;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * bitsandbytes' {@code AdamW} ({@code Optimizer2State} "adam") as transformers' Trainer builds it for
 * {@code optim="adamw_8bit"} / {@code "adamw_bnb_8bit"} / {@code "paged_adamw_8bit"} ({@code optim_bits=8}) and
 * {@code "paged_adamw_32bit"} ({@code optim_bits=32}), with {@code betas=(adam_beta1, adam_beta2)},
 * {@code eps=adam_epsilon} and the Trainer's decay / no-decay parameter groups; the arithmetic of its CPU kernels
 * in float32:
 * <ul>
 *   <li><b>8-bit states</b> (parameters of at least {@value #MIN_8BIT_SIZE} elements, {@code min_8bit_size}):
 *       the first moment is stored as blockwise 8-bit codes of the signed dynamic map, the second moment of the
 *       unsigned one (blocks of 256 elements with a float32 absmax each, see {@link BlockwiseStateCodec}). A step
 *       dequantizes both, updates {@code m = beta1 m + (1 - beta1) g} and {@code v = beta2 v + (1 - beta2) g^2},
 *       then {@code p = p (1 - lr wd) - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)}
 *       (decoupled decay, eps added after the bias correction), and quantizes the new moments again.
 *   <li><b>32-bit states</b> (smaller parameters, embedding weights, which transformers overrides to
 *       {@code optim_bits=32}, and every parameter of {@code paged_adamw_32bit}): bitsandbytes' 32-bit update,
 *       {@code p = p (1 - lr wd) - lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps sqrt(1 - beta2^t))}.
 *       (torch's AdamW divides by {@code sqrt(v) / sqrt(1 - beta2^t) + eps}: the same except for where eps sits.)
 * </ul>
 *
 * <p><b>Paged</b> ({@code paged_*}): bitsandbytes allocates the states of large parameters in CUDA unified memory,
 * which the driver evicts to CPU RAM when the GPU runs out of memory and pages back for the update. On a CPU,
 * bitsandbytes itself falls back to ordinary tensors. peft4j instead keeps every state of a paged optimizer in a
 * memory-mapped temporary file ({@code peft4j-paged-optimizer-*.bin} in the folder given, else
 * {@code java.io.tmpdir}), not on the Java heap: the operating system may write those pages out to the file under
 * memory pressure and read them back when the update touches them, so the states neither count against
 * {@code -Xmx} nor need swap space. It does not make the update cheaper or smaller (the numbers are identical to
 * the unpaged optimizer's, bit for bit), it does not prefetch, and it moves nothing between devices. The file is
 * closed and deleted by {@link #close()}; the mapping itself is released when the JVM collects its buffers (Java 17
 * cannot unmap explicitly), and on platforms that lock mapped files the file is deleted at exit instead.
 *
 * <p>Not thread-safe.
 */
public final class BnbAdamW implements Optimizer {
    /** bitsandbytes' {@code min_8bit_size}: smaller parameters keep 32-bit states. */
    public static final int MIN_8BIT_SIZE = 4096;

    private final OptimizerNames name;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final int optimBits;
    private final Set<String> fp32Names;
    private final StateRounding rounding;
    private final StateMemory memory;
    private final BlockwiseStateCodec codec1;
    private final BlockwiseStateCodec codec2;
    private final Map<String, State> states = new LinkedHashMap<>();
    private long step;
    private float[] m = new float[0];
    private float[] v = new float[0];
    private byte[] codes = new byte[0];
    private float[] absmax1 = new float[0];
    private float[] absmax2 = new float[0];

    /**
     * The optimizer transformers builds for {@code name} ({@code adamw_8bit}, {@code adamw_bnb_8bit},
     * {@code paged_adamw_8bit} or {@code paged_adamw_32bit}).
     *
     * @param fp32Names parameters that keep 32-bit states whatever their size (transformers does this for the
     *     weights of {@code nn.Embedding} modules)
     * @param pagingDir the folder of a paged optimizer's state file; null for {@code java.io.tmpdir}; unused when
     *     not paged
     */
    public BnbAdamW(OptimizerNames name, double beta1, double beta2, double eps, Set<String> fp32Names,
            Path pagingDir) {
        this(name, beta1, beta2, eps, fp32Names, pagingDir, StateRounding.LOOKUP_TABLE);
    }

    /**
     * As {@link #BnbAdamW(OptimizerNames, double, double, double, Set, Path)} with the given rounding of the 8-bit
     * states.
     */
    public BnbAdamW(OptimizerNames name, double beta1, double beta2, double eps, Set<String> fp32Names,
            Path pagingDir, StateRounding rounding) {
        this(name, beta1, beta2, eps, fp32Names, pagingDir, rounding, name.isPaged());
    }

    /** With paging chosen apart from the name (tests compare a paged optimizer with its unpaged twin). */
    BnbAdamW(OptimizerNames name, double beta1, double beta2, double eps, Set<String> fp32Names, Path pagingDir,
            StateRounding rounding, boolean paged) {
        if (!"bnb_adamw_8bit".equals(name.stateFormat()) && !"bnb_adamw_32bit".equals(name.stateFormat())) {
            throw new IllegalArgumentException(name + " is not a bitsandbytes AdamW");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("Invalid beta parameter: (" + beta1 + ", " + beta2 + ")");
        }
        if (!(eps >= 0)) {
            throw new IllegalArgumentException("Invalid epsilon value: " + eps);
        }
        this.name = name;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.optimBits = name.optimBits();
        this.fp32Names = Set.copyOf(fp32Names);
        this.rounding = rounding;
        this.codec1 = new BlockwiseStateCodec(DynamicMap.create(true), rounding == StateRounding.LOOKUP_TABLE);
        this.codec2 = new BlockwiseStateCodec(DynamicMap.create(false), rounding == StateRounding.LOOKUP_TABLE);
        this.memory = paged ? StateMemory.mapped(pagingDir) : StateMemory.heap();
    }

    /**
     * How 8-bit states are rounded after each update. bitsandbytes' CPU update quantizes them with
     * {@code quantize_blockwise}, whose native CPU kernel (any CPU install) finds codes through a 65,536-entry lookup
     * table; its pure-torch fallback and its CUDA kernel take the nearest code. The two differ for a few percent of
     * the codes (values near the midpoint of two codes), which moves the parameters by far less than the 8-bit
     * rounding itself.
     */
    public enum StateRounding {
        /** bitsandbytes' native CPU kernel (the default: what bitsandbytes computes on the machine peft4j runs on). */
        LOOKUP_TABLE,
        /** The nearest code, as bitsandbytes' CUDA kernel and its portable pure-torch path. */
        NEAREST
    }

    /** The rounding of the 8-bit states. */
    public StateRounding rounding() {
        return rounding;
    }

    @Override
    public OptimizerNames name() {
        return name;
    }

    @Override
    public long step() {
        return step;
    }

    @Override
    public void beginStep() {
        step++;
    }

    /** Whether parameter {@code name} of {@code numel} elements gets 8-bit states. */
    public boolean usesEightBitStates(String name, long numel) {
        return optimBits == 8 && numel >= MIN_8BIT_SIZE && !fp32Names.contains(name);
    }

    /** The paged optimizer's state file (null when not paged). */
    public Path stateFile() {
        return memory.file();
    }

    @Override
    public void update(String name, float[] param, float[] grad, double lr, double weightDecay) {
        State st = states.computeIfAbsent(name, k -> allocate(param.length, usesEightBitStates(k, param.length)));
        if (st.n != param.length || grad.length != param.length) {
            throw new IllegalArgumentException("parameter '" + name + "' has " + param.length + " elements, its state "
                    + st.n + " and its gradient " + grad.length);
        }
        int n = st.n;
        ensureScratch(n);
        float b1 = (float) beta1;
        float omb1 = (float) (1.0 - beta1);
        float b2 = (float) beta2;
        float omb2 = (float) (1.0 - beta2);
        double correction1 = 1.0 - Math.pow(beta1, step);
        double correction2 = Math.sqrt(1.0 - Math.pow(beta2, step));
        boolean decay = weightDecay > 0.0;
        float decayFactor = (float) (1.0 - lr * weightDecay);
        if (st.eightBit) {
            int blocks = BlockwiseStateCodec.blocks(n);
            st.absmax1.get(0, absmax1, 0, blocks);
            st.absmax2.get(0, absmax2, 0, blocks);
            st.codes1.get(0, codes, 0, n);
            codec1.decode(codes, absmax1, m, n);
            st.codes2.get(0, codes, 0, n);
            codec2.decode(codes, absmax2, v, n);
            float c2 = (float) correction2;
            float epsF = (float) eps;
            float stepSize = (float) (-lr / correction1);
            for (int i = 0; i < n; i++) {
                float g = grad[i];
                float mi = Math.fma(g, omb1, m[i] * b1);
                float vi = Math.fma(omb2 * g, g, v[i] * b2);
                m[i] = mi;
                v[i] = vi;
                float denom = (float) Math.sqrt(vi) / c2 + epsF;
                float p = decay ? param[i] * decayFactor : param[i];
                param[i] = p + stepSize * mi / denom;
            }
            codec1.encode(m, n, codes, absmax1);
            st.codes1.put(0, codes, 0, n);
            st.absmax1.put(0, absmax1, 0, blocks);
            codec2.encode(v, n, codes, absmax2);
            st.codes2.put(0, codes, 0, n);
            st.absmax2.put(0, absmax2, 0, blocks);
        } else {
            st.m32.get(0, m, 0, n);
            st.v32.get(0, v, 0, n);
            float stepSize = (float) (-lr * correction2 / correction1);
            float epsC = (float) (eps * correction2);
            for (int i = 0; i < n; i++) {
                float g = grad[i];
                float mi = Math.fma(g, omb1, m[i] * b1);
                float vi = Math.fma(omb2 * g, g, v[i] * b2);
                m[i] = mi;
                v[i] = vi;
                float p = decay ? param[i] * decayFactor : param[i];
                param[i] = Math.fma(mi / ((float) Math.sqrt(vi) + epsC), stepSize, p);
            }
            st.m32.put(0, m, 0, n);
            st.v32.put(0, v, 0, n);
        }
    }

    private void ensureScratch(int n) {
        if (m.length < n) {
            m = new float[n];
            v = new float[n];
            codes = new byte[n];
            absmax1 = new float[BlockwiseStateCodec.blocks(n)];
            absmax2 = new float[BlockwiseStateCodec.blocks(n)];
        }
    }

    private State allocate(int n, boolean eightBit) {
        State st = new State(n, eightBit);
        if (eightBit) {
            int blocks = BlockwiseStateCodec.blocks(n);
            st.codes1 = memory.allocate(n);
            st.codes2 = memory.allocate(n);
            st.absmax1 = memory.allocate(4L * blocks).asFloatBuffer();
            st.absmax2 = memory.allocate(4L * blocks).asFloatBuffer();
        } else {
            st.m32 = memory.allocate(4L * n).asFloatBuffer();
            st.v32 = memory.allocate(4L * n).asFloatBuffer();
        }
        return st;
    }

    @Override
    public long stateBytes(String name) {
        State st = states.get(name);
        if (st == null) {
            return 0;
        }
        return st.eightBit ? 2L * st.n + 8L * BlockwiseStateCodec.blocks(st.n) : 8L * st.n;
    }

    @Override
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, State> e : states.entrySet()) {
            State st = e.getValue();
            String k = e.getKey();
            if (st.eightBit) {
                out.put("state1." + k, bytes(st.codes1, st.n));
                out.put("state2." + k, bytes(st.codes2, st.n));
                int blocks = BlockwiseStateCodec.blocks(st.n);
                out.put("absmax1." + k, floats(st.absmax1, blocks));
                out.put("absmax2." + k, floats(st.absmax2, blocks));
            } else {
                out.put("state1." + k, floats(st.m32, st.n));
                out.put("state2." + k, floats(st.v32, st.n));
            }
        }
        return out;
    }

    @Override
    public void loadState(long step, Map<String, Tensor> state) {
        Map<String, State> loaded = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            String key = e.getKey();
            if (!key.startsWith("state1.")) {
                continue;
            }
            String p = key.substring("state1.".length());
            Tensor s1 = e.getValue();
            Tensor s2 = require(state, "state2." + p, s1.dtype(), s1.numel());
            int n = Math.toIntExact(s1.numel());
            boolean eightBit = s1.dtype() == DType.U8;
            if (!eightBit && s1.dtype() != DType.F32) {
                throw new IllegalArgumentException("optimizer state 'state1." + p + "' is " + s1.dtype()
                        + ", expected U8 or F32");
            }
            if (eightBit != usesEightBitStates(p, n)) {
                throw new IllegalArgumentException("optimizer state of '" + p + "' is " + (eightBit ? 8 : 32)
                        + "-bit, " + name + " keeps " + (eightBit ? 32 : 8) + "-bit states for it");
            }
            State st = states.containsKey(p) && states.get(p).n == n && states.get(p).eightBit == eightBit
                    ? states.get(p) : allocate(n, eightBit);
            if (eightBit) {
                int blocks = BlockwiseStateCodec.blocks(n);
                st.codes1.put(0, bytesOf(s1), 0, n);
                st.codes2.put(0, bytesOf(s2), 0, n);
                st.absmax1.put(0, require(state, "absmax1." + p, DType.F32, blocks).toFloatArray(), 0, blocks);
                st.absmax2.put(0, require(state, "absmax2." + p, DType.F32, blocks).toFloatArray(), 0, blocks);
            } else {
                st.m32.put(0, s1.toFloatArray(), 0, n);
                st.v32.put(0, s2.toFloatArray(), 0, n);
            }
            loaded.put(p, st);
        }
        states.clear();
        states.putAll(loaded);
        this.step = step;
    }

    private static Tensor require(Map<String, Tensor> state, String key, DType dtype, long numel) {
        Tensor t = state.get(key);
        if (t == null || t.dtype() != dtype || t.numel() != numel) {
            throw new IllegalArgumentException("optimizer state '" + key + "' is " + (t == null ? "missing" : t)
                    + ", expected " + dtype + " of " + numel + " elements");
        }
        return t;
    }

    private static byte[] bytesOf(Tensor t) {
        ByteBuffer b = t.data();
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    private static Tensor bytes(ByteBuffer codes, int n) {
        ByteBuffer copy = ByteBuffer.allocateDirect(n);
        byte[] tmp = new byte[n];
        codes.get(0, tmp, 0, n);
        copy.put(tmp).flip();
        return Tensor.wrap(DType.U8, new long[] {n}, copy);
    }

    private static Tensor floats(FloatBuffer src, int n) {
        float[] tmp = new float[n];
        src.get(0, tmp, 0, n);
        return Tensor.of(tmp, n);
    }

    @Override
    public void close() {
        states.clear();
        memory.close();
    }

    /** One parameter's moments: 8-bit codes with block absmax, or float32 arrays. */
    private static final class State {
        final int n;
        final boolean eightBit;
        ByteBuffer codes1;
        ByteBuffer codes2;
        FloatBuffer absmax1;
        FloatBuffer absmax2;
        FloatBuffer m32;
        FloatBuffer v32;

        State(int n, boolean eightBit) {
            this.n = n;
            this.eightBit = eightBit;
        }
    }
}
