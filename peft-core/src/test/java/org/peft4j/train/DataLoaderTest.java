package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.peft4j.data.Batch;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.SftTokenizer;
import org.peft4j.data.TokenizedExample;

/** Batching of tokenised examples: sizes, padding, per-epoch shuffling from (seed, epoch), cursors. */
class DataLoaderTest {
    static final long PAD = 0;

    /** Example {@code i} has length {@code 2 + i % 5} and token ids {@code 10 * i + 1, 10 * i + 2, ...}. */
    static List<TokenizedExample> examples(int n) {
        List<TokenizedExample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long[] ids = new long[2 + i % 5];
            long[] labels = new long[ids.length];
            for (int j = 0; j < ids.length; j++) {
                ids[j] = 10L * i + j + 1;
                labels[j] = j == 0 ? SftTokenizer.IGNORE_INDEX : ids[j];
            }
            out.add(new TokenizedExample(ids, labels));
        }
        return out;
    }

    /** The example index a collated row holds (its first id is 10 i + 1). */
    static int exampleOf(Batch b, int row) {
        return (int) ((b.inputIds().toLongArray()[(int) (row * b.inputIds().dim(1))] - 1) / 10);
    }

    @Test
    void batchesHaveTheBatchSizeAndArePaddedToTheirLongestExample() {
        List<TokenizedExample> ex = examples(10);
        DataLoader loader = new DataLoader(ex, 4, true, 42, new PaddingCollator(PAD, PaddingCollator.Side.RIGHT));
        assertThat(loader.batchesPerEpoch()).isEqualTo(3);
        List<Batch> epoch = loader.epoch(0);
        assertThat(epoch).hasSize(3);
        assertThat(epoch).extracting(b -> b.inputIds().dim(0)).containsExactly(4L, 4L, 2L);
        for (int k = 0; k < 3; k++) {
            Batch b = epoch.get(k);
            int[] idx = loader.exampleIndices(k);
            int longest = Arrays.stream(idx).map(i -> ex.get(i).length()).max().getAsInt();
            assertThat(b.inputIds().shape()).containsExactly(idx.length, longest);
            long[] ids = b.inputIds().toLongArray();
            long[] mask = b.attentionMask().toLongArray();
            long[] labels = b.labels().toLongArray();
            for (int r = 0; r < idx.length; r++) {
                TokenizedExample e = ex.get(idx[r]);
                assertThat(exampleOf(b, r)).isEqualTo(idx[r]);
                for (int j = 0; j < longest; j++) {
                    boolean token = j < e.length();
                    assertThat(ids[r * longest + j]).isEqualTo(token ? e.inputIds()[j] : PAD);
                    assertThat(mask[r * longest + j]).isEqualTo(token ? 1 : 0);
                    assertThat(labels[r * longest + j]).isEqualTo(token ? e.labels()[j] : SftTokenizer.IGNORE_INDEX);
                }
            }
        }
    }

    @Test
    void everyEpochVisitsEveryExampleOnceInItsOwnOrder() {
        DataLoader loader = new DataLoader(examples(10), 4, true, 42, new PaddingCollator(PAD,
                PaddingCollator.Side.RIGHT));
        List<List<Integer>> orders = new ArrayList<>();
        for (int epoch = 0; epoch < 3; epoch++) {
            List<Integer> seen = new ArrayList<>();
            for (int k = 0; k < loader.batchesPerEpoch(); k++) {
                Batch b = loader.batch(epoch * 3L + k);
                for (int r = 0; r < b.inputIds().dim(0); r++) {
                    seen.add(exampleOf(b, r));
                }
            }
            assertThat(seen).containsExactlyInAnyOrderElementsOf(IntStream.range(0, 10).boxed().toList());
            assertThat(seen).containsExactlyElementsOf(Arrays.stream(loader.order(epoch)).boxed().toList());
            orders.add(seen);
        }
        // shuffled, and differently each epoch
        assertThat(orders.get(0)).isNotEqualTo(IntStream.range(0, 10).boxed().toList());
        assertThat(orders.get(1)).isNotEqualTo(orders.get(0));
        assertThat(orders.get(2)).isNotEqualTo(orders.get(1));
    }

    @Test
    void theOrderIsAFunctionOfSeedAndEpoch() {
        PaddingCollator c = new PaddingCollator(PAD, PaddingCollator.Side.RIGHT);
        DataLoader a = new DataLoader(examples(20), 3, true, 7, c);
        DataLoader b = new DataLoader(examples(20), 3, true, 7, c);
        // a fresh loader (a resumed run) reproduces any epoch, in any order of asking
        assertThat(b.order(5)).containsExactly(a.order(5));
        assertThat(b.order(0)).containsExactly(a.order(0));
        assertThat(b.exampleIndices(5L * a.batchesPerEpoch() + 2)).containsExactly(
                Arrays.copyOfRange(a.order(5), 6, 9));
        // seed + epoch, as accelerate's SeedableRandomSampler: seed 7 epoch 1 is seed 8 epoch 0
        assertThat(new DataLoader(examples(20), 3, true, 8, c).order(0)).containsExactly(a.order(1));
        assertThat(new DataLoader(examples(20), 3, true, 1234, c).order(0)).isNotEqualTo(a.order(0));
    }

    @Test
    void shufflingIsUniform() {
        // position of example 0 over 6,000 epochs of 6 examples: 1,000 expected per position (sd ~ 29)
        DataLoader loader = new DataLoader(examples(6), 2, true, 3, new PaddingCollator(PAD,
                PaddingCollator.Side.RIGHT));
        int[] count = new int[6];
        int[] firstPair = new int[36];
        for (int epoch = 0; epoch < 6000; epoch++) {
            int[] order = loader.order(epoch);
            for (int p = 0; p < 6; p++) {
                if (order[p] == 0) {
                    count[p]++;
                }
            }
            firstPair[order[0] * 6 + order[1]]++;
        }
        for (int c : count) {
            assertThat(c).isBetween(880, 1120);
        }
        // every ordered pair of distinct examples leads equally often (200 expected each, sd ~ 14)
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < 6; j++) {
                assertThat(firstPair[i * 6 + j]).isBetween(i == j ? 0 : 140, i == j ? 0 : 260);
            }
        }
    }

    @Test
    void evaluationKeepsTheOrderAndUsesTheEvalBatchSize() {
        TrainingArguments args = TrainingArguments.builder(Path.of("unused")).perDeviceTrainBatchSize(2)
                .perDeviceEvalBatchSize(3).seed(5).build();
        PaddingCollator c = new PaddingCollator(PAD, PaddingCollator.Side.RIGHT);
        DataLoader eval = DataLoader.forEvaluation(examples(7), c, args);
        assertThat(eval.batchSize()).isEqualTo(3);
        assertThat(eval.epoch(0)).extracting(b -> b.inputIds().dim(0)).containsExactly(3L, 3L, 1L);
        assertThat(eval.order(4)).containsExactly(0, 1, 2, 3, 4, 5, 6);
        DataLoader train = DataLoader.forTraining(examples(7), c, args);
        assertThat(train.batchSize()).isEqualTo(2);
        assertThat(train.batchesPerEpoch()).isEqualTo(4);
        assertThat(train.order(0)).containsExactly(new DataLoader(examples(7), 2, true, 5, c).order(0));
        assertThatThrownBy(() -> new DataLoader(List.of(), 2, true, 0, c)).hasMessageContaining("no examples");
    }

    @Test
    void countedTokensMatchTheExamples() {
        // labels travel with their examples: the tokens the loss counts are the examples' counted tokens
        List<TokenizedExample> ex = examples(9);
        DataLoader loader = new DataLoader(ex, 4, true, 1, new PaddingCollator(PAD, PaddingCollator.Side.RIGHT));
        long counted = 0;
        for (Batch b : loader.epoch(2)) {
            long[] labels = b.labels().toLongArray();
            counted += Arrays.stream(labels).filter(l -> l != SftTokenizer.IGNORE_INDEX).count();
        }
        assertThat((double) counted).isCloseTo(ex.stream().mapToInt(TokenizedExample::countedTokens).sum(),
                within(0.0));
    }
}
