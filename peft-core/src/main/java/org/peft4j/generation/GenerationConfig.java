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

    /**
     * A builder with transformers' {@code GenerationConfig} defaults (greedy, 20 new tokens, top_k 50).
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Reads {@code generation_config.json} of a model folder as transformers' {@code GenerationConfig.from_pretrained}
     * does: {@code max_new_tokens}, {@code do_sample}, {@code temperature}, {@code top_k}, {@code top_p},
     * {@code eos_token_id} (a number or a list) and {@code pad_token_id}; other fields (bos_token_id,
     * transformers_version, ...) are ignored, and a field that is null keeps its default. Without the file, the
     * defaults of {@link #builder()}.
     *
     * @param dir the model folder (or the generation_config.json file itself)
     * @return the config
     * @throws org.peft4j.Peft4jException when the file is not a JSON object or a field has a bad type or value; the
     *     message names the file and the field
     */
    public static GenerationConfig fromPretrained(java.nio.file.Path dir) {
        return GenerationConfigFile.read(dir);
    }

    /** Greedy decoding of up to {@code maxNewTokens} tokens. */
    public static GenerationConfig greedy(int maxNewTokens) {
        return builder().maxNewTokens(maxNewTokens).build();
    }

    /**
     * {@code max_new_tokens}: the most tokens generated after the prompt.
     *
     * @return max_new_tokens
     */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /**
     * {@code do_sample}: sample from the filtered distribution instead of taking the most likely token.
     *
     * @return do_sample
     */
    public boolean doSample() {
        return doSample;
    }

    /**
     * {@code temperature}: the logits are divided by it before sampling.
     *
     * @return the temperature
     */
    public double temperature() {
        return temperature;
    }

    /**
     * {@code top_k}: sampling keeps the k most likely tokens; 0 keeps all.
     *
     * @return top_k
     */
    public int topK() {
        return topK;
    }

    /**
     * {@code top_p}: sampling keeps the smallest set of most likely tokens whose probability reaches it.
     *
     * @return top_p
     */
    public double topP() {
        return topP;
    }

    /**
     * {@code eos_token_id}: the ids that end a sequence; empty means the model config's.
     *
     * @return the ids
     */
    public List<Long> eosTokenIds() {
        return eosTokenIds;
    }

    /**
     * The pad token id, or null (then the first eos id pads finished sequences, as in transformers).
     *
     * @return the pad token id, or null
     */
    public Long padTokenId() {
        return padTokenId;
    }

    /**
     * The seed of the sampling random numbers.
     *
     * @return the seed
     */
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

        /**
         * Sets {@code max_new_tokens} (default 20).
         *
         * @param n the most new tokens, at least 0
         * @return this builder
         */
        public Builder maxNewTokens(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + n);
            }
            this.maxNewTokens = n;
            return this;
        }

        /**
         * Sets {@code do_sample} (default false: greedy).
         *
         * @param doSample whether to sample
         * @return this builder
         */
        public Builder doSample(boolean doSample) {
            this.doSample = doSample;
            return this;
        }

        /**
         * Sets {@code temperature} (default 1.0).
         *
         * @param t the temperature, positive
         * @return this builder
         */
        public Builder temperature(double t) {
            if (!(t > 0)) {
                throw new IllegalArgumentException("`temperature` (=" + t + ") has to be a strictly positive float");
            }
            this.temperature = t;
            return this;
        }

        /**
         * Top-k filtering; 0 disables it.
         *
         * @param k {@code top_k} (transformers' default 50; 0 disables it)
         * @return this builder
         */
        public Builder topK(int k) {
            if (k < 0) {
                throw new IllegalArgumentException("`top_k` has to be a non-negative integer, but is " + k);
            }
            this.topK = k;
            return this;
        }

        /**
         * Sets {@code top_p} (default 1.0: no nucleus filtering).
         *
         * @param p the probability mass in [0, 1]
         * @return this builder
         */
        public Builder topP(double p) {
            if (p < 0 || p > 1) {
                throw new IllegalArgumentException("`top_p` has to be a float >= 0 and <= 1, but is " + p);
            }
            this.topP = p;
            return this;
        }

        /**
         * Sets the ids that end a sequence (default: the model config's {@code eos_token_id}).
         *
         * @param ids the ids
         * @return this builder
         */
        public Builder eosTokenIds(List<Long> ids) {
            this.eosTokenIds = new ArrayList<>(ids);
            return this;
        }

        /**
         * Sets one id that ends a sequence.
         *
         * @param id the id
         * @return this builder
         */
        public Builder eosTokenId(long id) {
            this.eosTokenIds = new ArrayList<>(List.of(id));
            return this;
        }

        /**
         * Sets {@code pad_token_id}, written after a sequence has ended (default null: the first eos id).
         *
         * @param id the id, or null
         * @return this builder
         */
        public Builder padTokenId(Long id) {
            this.padTokenId = id;
            return this;
        }

        /**
         * Sets the seed of the sampling random numbers (default 42).
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * The config.
         *
         * @return the config
         */
        public GenerationConfig build() {
            return new GenerationConfig(this);
        }
    }
}
