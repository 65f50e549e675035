package org.peft4j.runtime;

/**
 * Settings of an {@link OrtRuntime}, built in the DJL style: {@code RuntimeOptions.builder().optDevice(..).build()}.
 */
public final class RuntimeOptions {
    private final Device device;
    private final int intraOpThreads;
    private final boolean zeroCopyWeights;
    private final int maxCachedSessions;
    private final long maxCachedSessionBytes;

    private RuntimeOptions(Builder b) {
        this.device = b.device;
        this.intraOpThreads = b.intraOpThreads;
        this.zeroCopyWeights = b.zeroCopyWeights;
        this.maxCachedSessions = b.maxCachedSessions;
        this.maxCachedSessionBytes = b.maxCachedSessionBytes;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** CPU, ORT's default thread count, zero-copy weights. */
    public static RuntimeOptions defaults() {
        return builder().build();
    }

    public Device device() {
        return device;
    }

    /** Intra-op threads (0 = ONNX Runtime's default, one per core). */
    public int intraOpThreads() {
        return intraOpThreads;
    }

    /**
     * Whether frozen weights are read in place from their (memory-mapped) buffers. When false, ORT prepacks MatMul
     * weights into private copies: faster token-by-token decoding, twice the weight memory.
     */
    public boolean zeroCopyWeights() {
        return zeroCopyWeights;
    }

    public int maxCachedSessions() {
        return maxCachedSessions;
    }

    /**
     * The most memory the session cache may hold, estimated as the cached sessions' ONNX models plus every weight
     * they bind (which they keep alive; a weight bound by several sessions counts once); least recently used
     * sessions are evicted beyond it, the newest is always kept. Default: no bound beyond
     * {@link #maxCachedSessions()} (a base model's weights are bound by every session, so a bound below their size
     * would leave one session cached). Set it for a long-lived process that serves many adapters over one base, e.g.
     * to the base's weights plus the adapters' memory allowed.
     */
    public long maxCachedSessionBytes() {
        return maxCachedSessionBytes;
    }

    /** Whether both hold the same settings. */
    boolean sameAs(RuntimeOptions o) {
        return device.equals(o.device) && sameBesidesDevice(o);
    }

    /** Whether both hold the same settings other than the device. */
    boolean sameBesidesDevice(RuntimeOptions o) {
        return intraOpThreads == o.intraOpThreads && zeroCopyWeights == o.zeroCopyWeights
                && maxCachedSessions == o.maxCachedSessions && maxCachedSessionBytes == o.maxCachedSessionBytes;
    }

    /** Builder for {@link RuntimeOptions}. */
    public static final class Builder {
        private Device device = Device.cpu();
        private int intraOpThreads;
        private boolean zeroCopyWeights = true;
        private int maxCachedSessions = 32;
        private long maxCachedSessionBytes = Long.MAX_VALUE;

        private Builder() {
        }

        public Builder optDevice(Device device) {
            this.device = device;
            return this;
        }

        public Builder optIntraOpThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("intraOpThreads must be >= 0, got " + threads);
            }
            this.intraOpThreads = threads;
            return this;
        }

        public Builder optZeroCopyWeights(boolean zeroCopy) {
            this.zeroCopyWeights = zeroCopy;
            return this;
        }

        public Builder optMaxCachedSessions(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxCachedSessions must be >= 1, got " + n);
            }
            this.maxCachedSessions = n;
            return this;
        }

        /** See {@link RuntimeOptions#maxCachedSessionBytes()}. */
        public Builder optMaxCachedSessionBytes(long bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("maxCachedSessionBytes must be >= 1, got " + bytes);
            }
            this.maxCachedSessionBytes = bytes;
            return this;
        }

        public RuntimeOptions build() {
            return new RuntimeOptions(this);
        }
    }
}
