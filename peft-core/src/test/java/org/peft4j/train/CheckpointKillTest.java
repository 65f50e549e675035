package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.tensor.Tensor;

/**
 * Kill test of checkpointing: a child JVM writes {@code checkpoint-N} folders (with an extra file, as a PEFT model's
 * adapter), rewrites some steps (as a resumed run does) and rotates to 2, and is killed with SIGKILL at a random
 * moment; afterwards every {@code checkpoint-N} folder is complete and self-consistent, {@code latest} finds one, and
 * after {@link CheckpointFolders#recover} nothing else is left. Trials: {@code peft4j.killTrials} (default 20).
 */
class CheckpointKillTest {

    @Test
    void aKilledCheckpointerLeavesOnlyCompleteCheckpoints(@TempDir Path tmp) throws Exception {
        int trials = Integer.getInteger("peft4j.killTrials", 20);
        Random random = new Random(16);
        for (int t = 0; t < trials; t++) {
            Path out = tmp.resolve("run-" + t);
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                    Child.class.getName(), out.toString()).redirectErrorStream(true).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            StringBuilder log = new StringBuilder();
            while ((line = r.readLine()) != null && !line.equals("ready")) {
                log.append(line).append('\n');
            }
            assertThat(line).as("child started; output:%n%s", log).isEqualTo("ready");
            Thread.sleep(random.nextInt(300));
            p.destroyForcibly();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();

            List<String> before;
            try (Stream<Path> s = Files.list(out)) {
                before = s.map(x -> x.getFileName().toString()).filter(n -> n.startsWith("checkpoint-"))
                        .collect(Collectors.toList());
            }
            // every folder under a final name is complete, even before recovery
            for (String n : before) {
                Path dir = out.resolve(n);
                long step = Long.parseLong(n.substring("checkpoint-".length()));
                float w = Checkpoint.read(dir).weights.get("w").toFloatArray()[0];
                assertThat(w).as("trial %d: %s", t, n).isIn((float) step, step + 0.5f);
                assertThat(Files.readString(dir.resolve("extra.txt"))).isEqualTo(Float.toString(w));
            }
            assertThat(CheckpointFolders.latest(out)).as("trial %d", t).isPresent();
            try (Stream<Path> s = Files.list(out)) {
                assertThat(s.map(x -> x.getFileName().toString()).filter(n -> !n.startsWith("checkpoint-")))
                        .as("trial %d: leftovers after recovery", t).isEmpty();
            }
        }
    }

    /** Checkpoints forever: step 1, 2, ...; every third step is written twice (value N, then N + 0.5). */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Path out = Path.of(args[0]);
            write(out, 1, 1f);
            System.out.println("ready");
            System.out.flush();
            for (long step = 2; ; step++) {
                write(out, step, step);
                if (step % 3 == 0) {
                    write(out, step, step + 0.5f);
                }
                Checkpoint.rotate(out, 2);
            }
        }

        private static void write(Path out, long step, float v) throws Exception {
            float[] big = new float[20_000];
            java.util.Arrays.fill(big, v);
            new Checkpoint(step, 1000, step, step, "adamw_torch", "adamw_torch",
                    Map.of("w", Tensor.of(new float[] {v}, 1), "big", Tensor.of(big, big.length)),
                    Map.of("exp_avg.w", Tensor.of(new float[] {v}, 1)), new JsonArray())
                    .write(out, dir -> Files.writeString(dir.resolve("extra.txt"), Float.toString(v)));
        }
    }
}
