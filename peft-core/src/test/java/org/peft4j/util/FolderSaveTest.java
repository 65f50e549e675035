package org.peft4j.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A crash at every step of a {@link FolderSave} leaves the old or the new set of files (after recovery). */
class FolderSaveTest {
    private static final List<String> FILES = List.of("README.md", "adapter_config.json", "other/adapter_config.json",
            "other/weights.bin");

    /** Stands for the process dying: nothing after it runs, not even close(). */
    static final class Crash extends RuntimeException {
        Crash(String step) {
            super(step);
        }
    }

    @AfterEach
    void unhook() {
        FolderSave.hook = step -> { };
    }

    private static void save(Path dir, String version, int filesBeforeCrash) throws IOException {
        FolderSave s = FolderSave.begin(dir);
        int i = 0;
        for (String f : FILES) {
            if (i++ == filesBeforeCrash) {
                throw new Crash("writing " + f);
            }
            AtomicFiles.writeString(s.file(f), version + ":" + f);
        }
        s.commit();
        s.close();
    }

    /** Every visible file, by relative path. */
    private static Map<String, String> visible(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> st = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) st::iterator) {
                if (Files.isRegularFile(p)) {
                    out.put(dir.relativize(p).toString().replace('\\', '/'), Files.readString(p, StandardCharsets.UTF_8));
                }
            }
        }
        return out;
    }

    private static Map<String, String> version(String v) {
        Map<String, String> m = new TreeMap<>();
        FILES.forEach(f -> m.put(f, v + ":" + f));
        return m;
    }

    @Test
    void aSaveLeavesExactlyItsFiles(@TempDir Path dir) throws IOException {
        save(dir, "old", -1);
        Files.writeString(dir.resolve(".adapter_config.json.123456789.tmp"), "left by a crashed per-file write");
        Files.writeString(dir.resolve("other/.weights.bin.3fa9c.tmp"), "left by SafeTensorsWriter");
        Files.writeString(dir.resolve(".mine.tmp"), "a user's file");
        save(dir, "new", -1);
        Map<String, String> expected = version("new");
        expected.put(".mine.tmp", "a user's file");
        assertThat(visible(dir)).isEqualTo(expected);
        assertThat(dir.resolve(FolderSave.STAGING)).doesNotExist();
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void aCrashWhileStagingKeepsTheOldVersionAndTheNextSaveCleansUp(int filesWritten, @TempDir Path dir)
            throws IOException {
        save(dir, "old", -1);
        assertThatThrownBy(() -> save(dir, "new", filesWritten)).isInstanceOf(Crash.class);
        assertThat(dir.resolve(FolderSave.STAGING)).exists();
        FolderSave.recover(dir);
        Map<String, String> seen = visible(dir);
        seen.keySet().removeIf(k -> k.startsWith(FolderSave.STAGING + "/"));
        assertThat(seen).isEqualTo(version("old"));
        save(dir, "newer", -1);
        assertThat(visible(dir)).isEqualTo(version("newer"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"staged", "committed", "moved 1", "moved 2", "moved 3", "moved 4", "unmarked"})
    void aCrashAtEachCommitStepIsOldOrNewAfterRecovery(String step, @TempDir Path dir) throws IOException {
        save(dir, "old", -1);
        FolderSave.hook = s -> {
            if (s.equals(step)) {
                throw new Crash(s);
            }
        };
        assertThatThrownBy(() -> save(dir, "new", -1)).isInstanceOf(Crash.class);
        FolderSave.hook = s -> { };
        FolderSave.recover(dir);
        Map<String, String> seen = visible(dir);
        seen.keySet().removeIf(k -> k.startsWith(FolderSave.STAGING + "/"));
        // before the commit marker the old version stays; from it on, recovery completes the new one
        assertThat(seen).isEqualTo(step.equals("staged") ? version("old") : version("new"));
        if (!step.equals("staged")) {
            assertThat(dir.resolve(FolderSave.STAGING).resolve(FolderSave.COMMIT)).doesNotExist();
        }
        save(dir, "newer", -1);
        assertThat(visible(dir)).isEqualTo(version("newer"));
        assertThat(dir.resolve(FolderSave.STAGING)).doesNotExist();
    }

    @Test
    void aCrashDuringRecoveryIsRecoveredByTheNextOne(@TempDir Path dir) throws IOException {
        save(dir, "old", -1);
        FolderSave.hook = s -> {
            if (s.equals("moved 1")) {
                throw new Crash(s);
            }
        };
        assertThatThrownBy(() -> save(dir, "new", -1)).isInstanceOf(Crash.class);
        FolderSave.hook = s -> {
            if (s.equals("moved 3")) {
                throw new Crash(s);
            }
        };
        assertThatThrownBy(() -> FolderSave.recover(dir)).isInstanceOf(Crash.class);
        FolderSave.hook = s -> { };
        FolderSave.recover(dir);
        assertThat(visible(dir)).isEqualTo(version("new"));
    }

    @Test
    void filesOutsideTheFolderAreRefused(@TempDir Path dir) throws IOException {
        try (FolderSave s = FolderSave.begin(dir.resolve("a"))) {
            assertThatThrownBy(() -> s.file("../x")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> s.file(FolderSave.STAGING + "/x")).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(dir.resolve("a").resolve(FolderSave.STAGING)).doesNotExist();
    }
}
