package org.peft4j.runtime;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.peft4j.graph.Graph;
import org.peft4j.graph.OnnxExporter;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compiles graphs into ONNX Runtime sessions and caches them. Sessions are cached by (graph structure, the weights
 * bound as initializers, which parameters are inputs); frozen weights are handed to ORT with
 * {@code SessionOptions.addInitializer} from their direct (memory-mapped) buffers, so no copy is made.
 *
 * <p>Everything native is owned here: sessions are reference-counted between the cache and the {@link CompiledGraph}
 * leases handed out, so an eviction never closes a session a caller still holds; closing the runtime closes all
 * sessions (leases then refuse to run). Thread-safe.
 */
public final class OrtRuntime implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OrtRuntime.class);
    private static OrtRuntime shared;
    private static RuntimeOptions sharedOptions;

    private final OrtEnvironment env;
    private final RuntimeOptions options;
    private final Device device;
    private final LinkedHashMap<Key, NativeSession> cache;
    /** Every session created and not yet seen closed: evicted ones may live on through leases. */
    private final List<NativeSession> live = new ArrayList<>();
    /** ONNX model bytes of each cached session (see {@link RuntimeOptions#maxCachedSessionBytes()}). */
    private final Map<Key, Long> cachedBytes = new java.util.HashMap<>();
    /** How many cached sessions bind each tensor: a tensor counts once in the estimate, however many bind it. */
    private final Map<Tensor, Integer> boundBy = new java.util.IdentityHashMap<>();
    private long totalCachedBytes;
    private boolean closed;
    /** Every runtime not yet closed, for {@link #releaseEverywhere}. */
    private static final java.util.Set<OrtRuntime> OPEN =
            java.util.Collections.synchronizedSet(java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()));

    /**
     * A runtime with the given options.
     *
     * @throws DeviceUnavailableException if CUDA is requested, not available, and no CPU fallback was allowed
     */
    public OrtRuntime(RuntimeOptions options) {
        // loading the native library is the first call that needs a large stack (NativeStack)
        this.env = NativeStack.call(OrtEnvironment::getEnvironment);
        this.options = options;
        this.device = resolveDevice(options.device());
        this.cache = new LinkedHashMap<>(16, 0.75f, true);
        OPEN.add(this);
    }

    /**
     * The process-wide runtime (closed at JVM exit) that everything without a runtime of its own uses: logits,
     * {@code PeftModel.generate}, {@code Generator}, adapter merges. Its options are those given to
     * {@link #configureShared}, else the defaults on the device named by the system property {@code peft4j.device}
     * ({@code cpu}, {@code cuda}, {@code cuda:N} or {@code auto}; default {@code cpu}).
     */
    public static synchronized OrtRuntime shared() {
        if (shared == null || shared.closed) {
            RuntimeOptions o = sharedOptions != null ? sharedOptions : RuntimeOptions.builder()
                    .optDevice(Device.parse(System.getProperty("peft4j.device", "cpu"))).build();
            shared = new OrtRuntime(o);
            OrtRuntime s = shared;
            java.lang.Runtime.getRuntime().addShutdownHook(new Thread(s::close, "peft4j-runtime-close"));
        }
        return shared;
    }

    /**
     * Sets the options of the {@link #shared()} runtime, e.g. its device, before its first use; everything that runs
     * on the shared runtime (generation and merges included) then runs there. Returns the shared runtime.
     *
     * @throws IllegalStateException if the shared runtime already exists with other options (a device request that
     *     resolves to the device in use counts as the same)
     * @throws DeviceUnavailableException if CUDA is requested, not available, and no CPU fallback was allowed
     */
    public static synchronized OrtRuntime configureShared(RuntimeOptions options) {
        java.util.Objects.requireNonNull(options, "options");
        if (shared != null && !shared.closed) {
            // the same settings, or a device request that resolves to the device in use (auto on a machine without
            // CUDA, for one) are fine
            if (!shared.options.sameAs(options) && !(shared.options.sameBesidesDevice(options)
                    && resolveDevice(options.device()).equals(shared.device))) {
                throw new IllegalStateException("the shared ONNX Runtime is already in use with other options; "
                        + "call configureShared before the first model runs");
            }
            return shared;
        }
        sharedOptions = options;
        return shared();
    }

    /** The device sessions actually run on (CPU after an allowed fallback). */
    public Device device() {
        return device;
    }

    /**
     * The settings this runtime was built with.
     *
     * @return the options
     */
    public RuntimeOptions options() {
        return options;
    }

    static Device resolveDevice(Device requested) {
        return resolveDevice(requested, () -> NativeStack.call(OrtEnvironment::getAvailableProviders),
                OrtRuntime::probeCuda);
    }

    /**
     * Resolves {@code requested} against the providers this ONNX Runtime build lists and a probe that starts the CUDA
     * execution provider once. The GPU jar lists CUDA whether or not CUDA can be loaded here: on a machine without
     * CUDA 12 / cuDNN 9 its {@code addCUDA} throws (ORT_EP_FAIL, or a load error of the provider library), so
     * listing alone would let an allowed fallback through and fail at the first session. Both checks end in one
     * warning and the CPU when a fallback is allowed, and in a {@link DeviceUnavailableException} otherwise.
     */
    static Device resolveDevice(Device requested, java.util.function.Supplier<EnumSet<OrtProvider>> providers,
            java.util.function.IntConsumer cudaProbe) {
        if (requested.kind() == Device.Kind.CPU) {
            return requested;
        }
        EnumSet<OrtProvider> available = providers.get();
        if (!available.contains(OrtProvider.CUDA)) {
            String msg = "CUDA device " + requested + " was requested, but this ONNX Runtime build has no CUDA "
                    + "execution provider (available: " + available + "). Replace the dependency "
                    + "com.microsoft.onnxruntime:onnxruntime by com.microsoft.onnxruntime:onnxruntime_gpu of the same "
                    + "version (in this repository: the Maven profile 'cuda') and install CUDA 12.x and cuDNN 9.x.";
            return unavailable(requested, msg, null);
        }
        try {
            cudaProbe.accept(requested.index());
        } catch (RuntimeException | LinkageError e) {
            String msg = "CUDA device " + requested + " was requested, but the CUDA execution provider of "
                    + "onnxruntime_gpu (in this repository: the Maven profile 'cuda') could not be started; it needs an "
                    + "NVIDIA driver, CUDA 12.x and cuDNN 9.x on the library path: " + e.getMessage();
            return unavailable(requested, msg, e);
        }
        return requested;
    }

    private static Device unavailable(Device requested, String msg, Throwable cause) {
        if (requested.allowsCpuFallback()) {
            LOG.warn("{} Falling back to the CPU.", msg);
            return Device.cpu();
        }
        throw new DeviceUnavailableException(msg, cause);
    }

    /** Starts the CUDA execution provider on {@code index} once, in throw-away session options. */
    private static void probeCuda(int index) {
        NativeStack.call(() -> {
            try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
                so.addCUDA(index);
            } catch (OrtException e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
            return null;
        });
    }

    /**
     * Compiles {@code g} (cached) and returns a lease on the session: the session stays open while the lease is open,
     * even if the cache evicts it meanwhile; close the lease when done with it (see {@link CompiledGraph}).
     * Parameters for which {@code asInput} holds become graph inputs; all others become initializers bound to their
     * storage without a copy.
     *
     * @throws IllegalStateException if a frozen parameter has no data (shape-only model)
     */
    public CompiledGraph compile(Graph g, Predicate<Parameter> asInput) {
        return compile(g, asInput, true);
    }

    /**
     * {@link #compile(Graph, Predicate)}, choosing whether the session keeps ONNX Runtime's CPU memory arena. A session
     * with the arena (the default) keeps the peak memory of its largest run reserved for the next run, which is
     * fastest when one session does all the work. Without it, memory is returned after each run: for many sessions
     * run one after another (the segments of a gradient-checkpointed step), whose arenas would together hold the sum
     * of their peaks instead of the largest one.
     */
    public synchronized CompiledGraph compile(Graph g, Predicate<Parameter> asInput, boolean cpuArena) {
        if (closed) {
            throw new IllegalStateException("runtime is closed");
        }
        ModelProto model = OnnxExporter.export(g, asInput);
        byte[] bytes = model.toByteArray();
        List<String> names = new ArrayList<>();
        List<Tensor> bound = new ArrayList<>();
        for (Value p : g.parameters()) {
            if (!asInput.test(p.parameter())) {
                if (!p.parameter().hasData()) {
                    throw new IllegalStateException("parameter '" + p.name() + "' " + Arrays.toString(
                            p.parameter().shape()) + " has no data: the model was built shape-only; load weights first");
                }
                names.add(p.name());
                bound.add(p.parameter().data());
            }
        }
        Key key = new Key(digest(bytes), bound, cpuArena);
        NativeSession s = cache.get(key);
        if (s == null) {
            s = create(bytes, names, bound, hasHalfPrecision(g), cpuArena, describe(model));
            cache.put(key, s);
            cachedBytes.put(key, (long) bytes.length);
            totalCachedBytes += bytes.length;
            for (Tensor t : distinct(bound)) {
                if (boundBy.merge(t, 1, Integer::sum) == 1) {
                    totalCachedBytes += t.byteSize();
                }
            }
            live.removeIf(NativeSession::isClosed);
            live.add(s);
        }
        s.retain();
        evict();
        return new CompiledGraph(s);
    }

    /**
     * An ORT tensor over a peft4j tensor's storage (no copy for direct storage). The caller closes it and keeps
     * {@code t} reachable while it is used.
     */
    public OnnxTensor toOnnx(Tensor t) {
        try {
            return OrtTensors.toOrt(env, t);
        } catch (OrtException e) {
            throw new org.peft4j.RuntimeFailureException("could not create an ONNX Runtime tensor for " + t + ": "
                    + e.getMessage(), e);
        }
    }

    /** Number of sessions still open (cached, or evicted but still leased). */
    public synchronized int openSessions() {
        live.removeIf(NativeSession::isClosed);
        return live.size();
    }

    /** Number of cached sessions. */
    public synchronized int cachedSessions() {
        return cache.size();
    }

    /** The estimated bytes the cached sessions hold (see {@link RuntimeOptions#maxCachedSessionBytes()}). */
    public synchronized long cachedSessionBytes() {
        return totalCachedBytes;
    }

    /**
     * Drops from the cache every session that binds one of {@code tensors} (for example the weights of a model that
     * is being discarded), so that they and the sessions' native memory can be freed; sessions still leased close
     * when their lease does.
     *
     * @return the number of sessions dropped
     */
    public synchronized int release(java.util.Collection<Tensor> tensors) {
        java.util.Set<Tensor> set = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        set.addAll(tensors);
        int n = 0;
        Iterator<Map.Entry<Key, NativeSession>> it = cache.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Key, NativeSession> e = it.next();
            if (e.getKey().bound.stream().anyMatch(set::contains)) {
                it.remove();
                drop(e);
                n++;
            }
        }
        return n;
    }

    /** {@link #release} on every runtime not yet closed. */
    public static int releaseEverywhere(java.util.Collection<Tensor> tensors) {
        List<OrtRuntime> runtimes;
        synchronized (OPEN) {
            runtimes = new ArrayList<>(OPEN);
        }
        int n = 0;
        for (OrtRuntime r : runtimes) {
            n += r.release(tensors);
        }
        return n;
    }

    private void evict() {
        Iterator<Map.Entry<Key, NativeSession>> it = cache.entrySet().iterator();
        while ((cache.size() > options.maxCachedSessions()
                || cache.size() > 1 && totalCachedBytes > options.maxCachedSessionBytes()) && it.hasNext()) {
            Map.Entry<Key, NativeSession> e = it.next();
            it.remove();
            drop(e);
        }
    }

    /** Releases the cache's reference to an entry already removed from the cache. */
    private void drop(Map.Entry<Key, NativeSession> e) {
        Long bytes = cachedBytes.remove(e.getKey());
        totalCachedBytes -= bytes == null ? 0 : bytes;
        for (Tensor t : distinct(e.getKey().bound)) {
            Integer n = boundBy.get(t);
            if (n != null && n == 1) {
                boundBy.remove(t);
                totalCachedBytes -= t.byteSize();
            } else if (n != null) {
                boundBy.put(t, n - 1);
            }
        }
        // the cache's reference only: leases still held keep the session open
        e.getValue().release();
    }

    private static java.util.Set<Tensor> distinct(List<Tensor> tensors) {
        java.util.Set<Tensor> set = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        set.addAll(tensors);
        return set;
    }

    /** Whether any parameter of {@code g} is float16 or bfloat16. */
    private static boolean hasHalfPrecision(Graph g) {
        for (Value p : g.parameters()) {
            if (p.dtype() == DType.F16 || p.dtype() == DType.BF16) {
                return true;
            }
        }
        return false;
    }

    /** The graph a session is made for, for error messages: node count, inputs and outputs. */
    private static String describe(ModelProto model) {
        var graph = model.getGraph();
        List<String> in = new ArrayList<>();
        graph.getInputList().forEach(v -> in.add(v.getName()));
        List<String> out = new ArrayList<>();
        graph.getOutputList().forEach(v -> out.add(v.getName()));
        return "a graph of " + graph.getNodeCount() + " nodes with inputs " + in + " and outputs " + out;
    }

    private NativeSession create(byte[] model, List<String> names, List<Tensor> bound, boolean half,
            boolean cpuArena, String graph) {
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        List<OnnxTensor> inits = new ArrayList<>();
        try {
            // ORT 1.29's CPU build computes GPT-2 wrongly in float16 at the ALL level (its layout-level transformers
            // meet the casts it inserts around ops without float16 CPU kernels) and rightly at EXTENDED; float16 on
            // the CPU is a correctness path, not a speed one, so half-precision CPU graphs stop at EXTENDED
            boolean extendedOnly = half && device.kind() == Device.Kind.CPU;
            so.setOptimizationLevel(extendedOnly ? OrtSession.SessionOptions.OptLevel.EXTENDED_OPT
                    : OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (options.intraOpThreads() > 0) {
                so.setIntraOpNumThreads(options.intraOpThreads());
            }
            so.addConfigEntry("session.intra_op.allow_spinning", "0");
            // ORT's native logger would print a failing kernel's error straight to stderr, past the application's
            // logging; the OrtException thrown to the caller carries the same text, so sessions log only fatal errors
            so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
            if (!cpuArena) {
                so.setCPUArenaAllocator(false);
            }
            // Frozen weights are placeholders in the ModelProto, bound with addInitializer; ORT's constant folding
            // reads the proto's (placeholder) data, not the bound buffer, so a weight-only subgraph such as
            // Transpose(lora_A) or MatMul(lora_B, lora_A) would be folded from zeros. It also would materialise a
            // second copy of the weight. So constant folding is off.
            so.addConfigEntry("optimization.disable_specified_optimizers", "ConstantFolding");
            if (options.zeroCopyWeights()) {
                so.addConfigEntry("session.disable_prepacking", "1");
            }
            if (device.kind() == Device.Kind.CUDA) {
                try {
                    so.addCUDA(device.index());
                } catch (OrtException e) {
                    throw new DeviceUnavailableException("could not start the CUDA execution provider on " + device
                            + " (needs CUDA 12.x and cuDNN 9.x on the library path): " + e.getMessage(), e);
                }
            }
            so.addConfigEntry("session.model_external_initializers_file_folder_path",
                    PlaceholderFile.folder(maxBytes(bound)).toString());
            for (int i = 0; i < names.size(); i++) {
                OnnxTensor t = OrtTensors.toOrt(env, bound.get(i));
                inits.add(t);
                so.addInitializer(names.get(i), t);
            }
            OrtSession session = NativeStack.call(() -> env.createSession(model, so));
            return new NativeSession(env, session, so, inits, new ArrayList<>(bound), device);
        } catch (OrtException e) {
            inits.forEach(OnnxTensor::close);
            so.close();
            throw new org.peft4j.RuntimeFailureException("ONNX Runtime could not create a session for " + graph
                    + " on " + device + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            inits.forEach(OnnxTensor::close);
            so.close();
            throw e;
        }
    }

    private static long maxBytes(List<Tensor> tensors) {
        long max = 1;
        for (Tensor t : tensors) {
            max = Math.max(max, t.byteSize());
        }
        return max;
    }

    private static byte[] digest(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (NativeSession s : live) {
            s.close();
        }
        live.clear();
        cache.clear();
        cachedBytes.clear();
        boundBy.clear();
        totalCachedBytes = 0;
        OPEN.remove(this);
    }

    /**
     * Cache key: graph bytes digest plus the identities and {@linkplain Tensor#version() versions} of the bound weight
     * tensors (a weight changed in place gets a new session).
     */
    private static final class Key {
        private final byte[] digest;
        private final List<Tensor> bound;
        private final long[] versions;
        private final boolean cpuArena;

        Key(byte[] digest, List<Tensor> bound, boolean cpuArena) {
            this.digest = digest;
            this.bound = bound;
            this.cpuArena = cpuArena;
            this.versions = new long[bound.size()];
            for (int i = 0; i < versions.length; i++) {
                versions[i] = bound.get(i).version();
            }
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key)) {
                return false;
            }
            Key k = (Key) o;
            if (cpuArena != k.cpuArena || !Arrays.equals(digest, k.digest) || bound.size() != k.bound.size()
                    || !Arrays.equals(versions, k.versions)) {
                return false;
            }
            for (int i = 0; i < bound.size(); i++) {
                if (bound.get(i) != k.bound.get(i)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int hashCode() {
            int h = Arrays.hashCode(digest) * 31 + Arrays.hashCode(versions);
            for (Tensor t : bound) {
                h = 31 * h + System.identityHashCode(t);
            }
            return h;
        }
    }
}
