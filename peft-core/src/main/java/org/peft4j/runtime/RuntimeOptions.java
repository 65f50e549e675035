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

    /**
     * Starts a builder with the defaults (CPU, ORT's default thread count, zero-copy weights).
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** CPU, ORT's default thread count, zero-copy weights. */
    public static RuntimeOptions defaults() {
        return builder().build();
    }

    /**
     * The device sessions run on.
     *
     * @return the device (default CPU)
     */
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

    /**
     * The most compiled sessions kept in the runtime's cache; the least recently used one is evicted beyond it.
     *
     * @return the limit (default 32)
     */
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

        /**
         * Sets the device (default {@link Device#cpu()}).
         *
         * @param device CPU or a CUDA device
         * @return this builder
         */
        public Builder optDevice(Device device) {
            this.device = device;
            return this;
        }

        /**
         * Sets ONNX Runtime's intra-op thread count.
         *
         * @param threads the threads per session, 0 for ORT's default (the number of cores)
         * @return this builder
         * @throws IllegalArgumentException if {@code threads} is negative
         */
        public Builder optIntraOpThreads(int threads) {
            if (threads < 0) {
                throw new IllegalArgumentException("intraOpThreads must be >= 0, got " + threads);
            }
            this.intraOpThreads = threads;
            return this;
        }

        /**
         * Sets whether frozen weights are read in place from their memory-mapped buffers (default true; see
         * {@link RuntimeOptions#zeroCopyWeights()}).
         *
         * @param zeroCopy false to let ORT prepack weights into private copies
         * @return this builder
         */
        public Builder optZeroCopyWeights(boolean zeroCopy) {
            this.zeroCopyWeights = zeroCopy;
            return this;
        }

        /**
         * Sets the most compiled sessions the cache keeps (default 32).
         *
         * @param n the limit, at least 1
         * @return this builder
         * @throws IllegalArgumentException if {@code n} is less than 1
         */
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

        /**
         * Builds the options.
         *
         * @return the immutable options
         */
        public RuntimeOptions build() {
            return new RuntimeOptions(this);
        }
    }
}
