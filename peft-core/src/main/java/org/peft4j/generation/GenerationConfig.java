package org.peft4j.generation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Decoding settings with transformers' names: {@code max_new_tokens}, {@code do_sample}, {@code temperature},
 * {@code top_k}, {@code top_p}, {@code eos_token_id}, {@code pad_token_id}, plus a {@code seed} for sampling.
 * Defaults follow transformers: greedy, temperature 1.0, top_k 50, top_p 1.0.
 */
public final class GenerationConfig {
    private final int maxNewTokens;
    private final boolean doSample;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final List<Long> eosTokenIds;
    private final Long padTokenId;
    private final long seed;

    private GenerationConfig(Builder b) {
        this.maxNewTokens = b.maxNewTokens;
        this.doSample = b.doSample;
        this.temperature = b.temperature;
        this.topK = b.topK;
        this.topP = b.topP;
        this.eosTokenIds = Collections.unmodifiableList(new ArrayList<>(b.eosTokenIds));
        this.padTokenId = b.padTokenId;
        this.seed = b.seed;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens. */
    public static GenerationConfig greedy(int maxNewTokens) {
        return builder().maxNewTokens(maxNewTokens).build();
    }

    public int maxNewTokens() {
        return maxNewTokens;
    }

    public boolean doSample() {
        return doSample;
    }

    public double temperature() {
        return temperature;
    }

    public int topK() {
        return topK;
    }

    public double topP() {
        return topP;
    }

    public List<Long> eosTokenIds() {
        return eosTokenIds;
    }

    /** The pad token id, or null (then the first eos id pads finished sequences, as in transformers). */
    public Long padTokenId() {
        return padTokenId;
    }

    public long seed() {
        return seed;
    }

    /** Builder for {@link GenerationConfig}. */
    public static final class Builder {
        private int maxNewTokens = 20;
        private boolean doSample;
        private double temperature = 1.0;
        private int topK = 50;
        private double topP = 1.0;
        private List<Long> eosTokenIds = new ArrayList<>();
        private Long padTokenId;
        private long seed = 42;

        private Builder() {
        }

        public Builder maxNewTokens(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + n);
            }
            this.maxNewTokens = n;
            return this;
        }

        public Builder doSample(boolean doSample) {
            this.doSample = doSample;
            return this;
        }

        public Builder temperature(double t) {
            if (!(t > 0)) {
                throw new IllegalArgumentException("`temperature` (=" + t + ") has to be a strictly positive float");
            }
            this.temperature = t;
            return this;
        }

        /** Top-k filtering; 0 disables it. */
        public Builder topK(int k) {
            if (k < 0) {
                throw new IllegalArgumentException("`top_k` has to be a non-negative integer, but is " + k);
            }
            this.topK = k;
            return this;
        }

        public Builder topP(double p) {
            if (p < 0 || p > 1) {
                throw new IllegalArgumentException("`top_p` has to be a float >= 0 and <= 1, but is " + p);
            }
            this.topP = p;
            return this;
        }

        public Builder eosTokenIds(List<Long> ids) {
            this.eosTokenIds = new ArrayList<>(ids);
            return this;
        }

        public Builder eosTokenId(long id) {
            this.eosTokenIds = new ArrayList<>(List.of(id));
            return this;
        }

        public Builder padTokenId(Long id) {
            this.padTokenId = id;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public GenerationConfig build() {
            return new GenerationConfig(this);
        }
    }
}
