package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.tensor.Tensor;

/** A crash at each step of a checkpoint write or rotation leaves only complete {@code checkpoint-N} folders. */
class CheckpointFoldersTest {
    static final class Crash extends RuntimeException {
        Crash(String step) {
            super(step);
        }
    }

    @AfterEach
    void unhook() {
        CheckpointFolders.hook = s -> { };
    }

    private static Checkpoint checkpoint(long step, float value) {
        return new Checkpoint(step, 10, step * 2, step, "adamw_torch", "adamw_torch",
                Map.of("w", Tensor.of(new float[] {value, value}, 2)),
                Map.of("exp_avg.w", Tensor.of(new float[] {value, 0}, 2)), new JsonArray());
    }

    private static void crashAt(String step) {
        CheckpointFolders.hook = s -> {
            if (s.equals(step)) {
                throw new Crash(s);
            }
        };
    }

    private static float weight(Path dir) throws IOException {
        return Checkpoint.read(dir).weights.get("w").toFloatArray()[0];
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"written", "moved aside", "renamed"})
    void rewritingAStepIsOldOrNewAfterACrash(String step, @TempDir Path out) throws IOException {
        checkpoint(5, 1f).write(out);
        crashAt(step);
        assertThatThrownBy(() -> checkpoint(5, 2f).write(out)).isInstanceOf(Crash.class);
        CheckpointFolders.hook = s -> { };
        assertThat(CheckpointFolders.latest(out)).contains(out.resolve("checkpoint-5"));
        assertThat(names(out)).containsExactly("checkpoint-5");
        assertThat(weight(out.resolve("checkpoint-5"))).isEqualTo(step.equals("renamed") ? 2f : 1f);
    }

    @Test
    void anExtraWriterThatDiesLeavesNoCheckpointUnderItsName(@TempDir Path out) throws IOException {
        checkpoint(5, 1f).write(out);
        assertThatThrownBy(() -> checkpoint(6, 2f).write(out, dir -> {
            Files.writeString(dir.resolve("adapter_config.json"), "{");
            throw new Crash("extra");
        })).isInstanceOf(Crash.class);
        assertThat(names(out)).containsExactly(".checkpoint-6.tmp", "checkpoint-5");
        assertThat(CheckpointFolders.latest(out)).contains(out.resolve("checkpoint-5"));
        assertThat(names(out)).containsExactly("checkpoint-5");
    }

    @Test
    void aCrashWhileRotatingNeverLeavesHalfACheckpoint(@TempDir Path out) throws IOException {
        for (int s = 1; s <= 3; s++) {
            checkpoint(s, s).write(out);
        }
        crashAt("rotated checkpoint-1");
        assertThatThrownBy(() -> Checkpoint.rotate(out, 1)).isInstanceOf(Crash.class);
        CheckpointFolders.hook = s -> { };
        assertThat(names(out)).containsExactly(".checkpoint-1.del", "checkpoint-2", "checkpoint-3");
        checkpoint(4, 4f).write(out); // the next write tidies up
        assertThat(names(out)).containsExactly("checkpoint-2", "checkpoint-3", "checkpoint-4");
        for (String n : names(out)) {
            assertThat(weight(out.resolve(n))).isEqualTo(Float.parseFloat(n.substring("checkpoint-".length())));
        }
        assertThat(CheckpointFolders.latest(out)).contains(out.resolve("checkpoint-4"));
    }

    @Test
    void resumingRecoversAStepMovedAside(@TempDir Path out) throws IOException {
        checkpoint(5, 1f).write(out);
        crashAt("moved aside");
        assertThatThrownBy(() -> checkpoint(5, 2f).write(out)).isInstanceOf(Crash.class);
        CheckpointFolders.hook = s -> { };
        assertThat(out.resolve("checkpoint-5")).doesNotExist();
        assertThat(weight(out.resolve("checkpoint-5"))).as("read() recovers the output folder first").isEqualTo(1f);
    }
}
