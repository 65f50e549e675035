package org.peft4j.train;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.peft4j.data.Batch;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.TokenizedExample;

/**
 * Batches tokenised examples as transformers' {@code Trainer} dataloaders do: {@code batchSize} examples per batch,
 * padded by a {@link PaddingCollator}, the last batch of an epoch smaller when the examples do not divide evenly
 * ({@code dataloader_drop_last=False}).
 *
 * <p>A training loader shuffles every epoch with a generator seeded from {@code seed + epoch}, the scheme of
 * accelerate's {@code SeedableRandomSampler}, so the order of every epoch is a function of (seed, epoch) alone. (The
 * generator is Java's {@link SplittableRandom} with a Fisher-Yates shuffle, not torch's {@code randperm}: the orders
 * are as reproducible as transformers', not the same permutations.) An evaluation loader keeps the examples' order.
 *
 * <p>Batches are addressed by a <em>cursor</em>, the number of micro-batches drawn since training began: cursor
 * {@code c} is batch {@code c % batchesPerEpoch()} of epoch {@code c / batchesPerEpoch()}. A checkpoint stores the
 * cursor, so a run resumed in the middle of an epoch continues that epoch's order where it stopped.
 */
public final class DataLoader {
    private final List<TokenizedExample> examples;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final PaddingCollator collator;
    private long cachedEpoch = -1;
    private int[] cachedOrder;

    /**
     * @param examples the examples (at least one)
     * @param batchSize examples per batch
     * @param shuffle whether every epoch is shuffled (training) or keeps the examples' order (evaluation)
     * @param seed the shuffling seed (the generator of epoch {@code e} is seeded with {@code seed + e})
     * @param collator pads each batch
     */
    public DataLoader(List<TokenizedExample> examples, int batchSize, boolean shuffle, long seed,
            PaddingCollator collator) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("no examples to batch");
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        this.examples = List.copyOf(examples);
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.collator = java.util.Objects.requireNonNull(collator, "collator");
    }

    /** Shuffled batches of {@code per_device_train_batch_size}, seeded by {@code seed}. */
    public static DataLoader forTraining(List<TokenizedExample> examples, PaddingCollator collator,
            TrainingArguments args) {
        return new DataLoader(examples, args.perDeviceTrainBatchSize(), true, args.seed(), collator);
    }

    /** Batches of {@code per_device_eval_batch_size} in the examples' order. */
    public static DataLoader forEvaluation(List<TokenizedExample> examples, PaddingCollator collator,
            TrainingArguments args) {
        return new DataLoader(examples, args.perDeviceEvalBatchSize(), false, args.seed(), collator);
    }

    /** Number of examples. */
    public int size() {
        return examples.size();
    }

    /** Examples per batch (the last batch of an epoch may hold fewer). */
    public int batchSize() {
        return batchSize;
    }

    /** Number of batches in one epoch: {@code ceil(size / batchSize)}. */
    public int batchesPerEpoch() {
        return (examples.size() + batchSize - 1) / batchSize;
    }

    /** The order in which epoch {@code epoch} visits the examples (a permutation of their indices). */
    public int[] order(long epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        }
        if (epoch != cachedEpoch) {
            int[] order = new int[examples.size()];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            if (shuffle) {
                SplittableRandom rnd = new SplittableRandom(seed + epoch);
                for (int i = order.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1);
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
            }
            cachedOrder = order;
            cachedEpoch = epoch;
        }
        return cachedOrder.clone();
    }

    /** The indices of the examples in micro-batch {@code cursor} (see the class comment). */
    public int[] exampleIndices(long cursor) {
        if (cursor < 0) {
            throw new IllegalArgumentException("cursor must be >= 0, got " + cursor);
        }
        long epoch = cursor / batchesPerEpoch();
        int first = (int) (cursor % batchesPerEpoch()) * batchSize;
        int[] order = order(epoch);
        return java.util.Arrays.copyOfRange(order, first, Math.min(first + batchSize, order.length));
    }

    /** Micro-batch {@code cursor}, padded by the collator. */
    public Batch batch(long cursor) {
        List<TokenizedExample> picked = new ArrayList<>();
        for (int i : exampleIndices(cursor)) {
            picked.add(examples.get(i));
        }
        return collator.collate(picked);
    }

    /** Every batch of epoch {@code epoch}, in order. */
    public List<Batch> epoch(long epoch) {
        List<Batch> out = new ArrayList<>();
        for (int b = 0; b < batchesPerEpoch(); b++) {
            out.add(batch(epoch * batchesPerEpoch() + b));
        }
        return out;
    }
}
