package org.peft4j.fuzz;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Runs a seeded mutation campaign over a committed corpus ({@code interop/fixtures/fuzz/<name>/}: seed inputs and
 * any crasher found, replayed unmutated first). The build runs {@code peft4j.fuzzTries} tries (default 2,000 per
 * target, bounded by count, not time, so results do not depend on machine speed) from seed
 * {@code peft4j.fuzzSeed} (default 16). An outcome is a failure when the target throws anything but its declared
 * exception types: an undeclared exception, an {@link Error} (OutOfMemoryError, StackOverflowError...).
 */
final class FuzzHarness {
    /** The code under test, fed one input file. */
    interface Target {
        void run(Path file) throws Exception;
    }

    /**
     * The adapter_config.json fuzz of {@code interop/fixtures/fuzz/<corpus>} through
     * {@link org.peft4j.peft.PeftConfigs#fromPretrained} with the tuners the class path registers: only
     * {@link org.peft4j.FileAccessException} and {@link org.peft4j.ConfigException} may escape. Prints the counts under
     * {@code name} and checks that nothing else escaped, that some mutations still load (so the tuners' field checks
     * are reached) and that more than a tenth are refused.
     */
    static Result checkAdapterConfigs(String name, String corpus, Path work) throws IOException {
        Result res = run(org.peft4j.testutil.Fixtures.root().resolve("fuzz").resolve(corpus), work,
                "adapter_config.json", List.of(org.peft4j.FileAccessException.class, org.peft4j.ConfigException.class),
                org.peft4j.peft.PeftConfigs::fromPretrained);
        System.out.println(name + ": " + res.tried() + " tried, " + res.accepted() + " accepted, " + res.refused()
                + " refused, " + res.failures().size() + " undeclared");
        org.assertj.core.api.Assertions.assertThat(res.failures()).isEmpty();
        org.assertj.core.api.Assertions.assertThat(res.accepted())
                .as("mutations that still load (so field checks are reached)").isPositive();
        org.assertj.core.api.Assertions.assertThat(res.refused()).isGreaterThan(res.tried() / 10);
        return res;
    }

    /** Outcome counts and the first failures (with the input that caused them). */
    record Result(int tried, int accepted, int refused, List<String> failures) {}

    private FuzzHarness() {}

    static int tries() {
        return Integer.getInteger("peft4j.fuzzTries", 2_000);
    }

    static Result run(Path corpus, Path work, String fileName, List<Class<? extends Throwable>> declared, Target target)
            throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        try (Stream<Path> s = Files.list(corpus)) {
            for (Path p : s.sorted().toList()) {
                seeds.add(Files.readAllBytes(p));
            }
        }
        Random r = new Random(Long.getLong("peft4j.fuzzSeed", 16));
        int tries = tries();
        int accepted = 0;
        int refused = 0;
        List<String> failures = new ArrayList<>();
        Path file = work.resolve(fileName);
        for (int i = 0; i < tries + seeds.size(); i++) {
            byte[] input = i < seeds.size() ? seeds.get(i) : Mutator.mutate(seeds.get(r.nextInt(seeds.size())), r);
            Files.write(file, input);
            try {
                target.run(file);
                accepted++;
            } catch (Throwable t) {
                if (declared.stream().anyMatch(c -> c.isInstance(t))) {
                    refused++;
                } else if (failures.size() < 5) {
                    StringWriter w = new StringWriter();
                    t.printStackTrace(new PrintWriter(w));
                    String text = new String(input, java.nio.charset.StandardCharsets.ISO_8859_1);
                    failures.add("try " + i + ": " + w.toString().lines().limit(8).reduce("", (a, b) -> a + b + "\n")
                            + "input: " + (text.length() > 2000 ? text.substring(0, 2000) + "..." : text));
                } else {
                    failures.add("try " + i + ": " + t);
                }
                if (t instanceof VirtualMachineError) {
                    break;
                }
            }
        }
        return new Result(tries + seeds.size(), accepted, refused, failures);
    }
}
