package org.peft4j.bench;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;

/**
 * Helpers of the paired benchmark programs ({@link MergeVsCopy}, {@link ForwardOverhead}): they time the operations
 * they compare back to back in one process, round after round, and report medians of the per-round ratios. On a
 * shared or virtual machine the cost of the same call drifts by several times within minutes (first touches of
 * memory, time waiting for a core), so medians taken in separate JVMs at different times compare the machine's moods;
 * a ratio taken within a round does not.
 */
final class Paired {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private Paired() {
    }

    /** Wall and process CPU time (all threads, ONNX Runtime's pool included) of one timed call, in ms. */
    record Timing(double wallMs, double cpuMs) {
    }

    /** A timer started now; {@link Clock#stop()} gives the {@link Timing} since. */
    static final class Clock {
        private final long cpu = OS.getProcessCpuTime();
        private final long wall = System.nanoTime();

        Timing stop() {
            return new Timing((System.nanoTime() - wall) / 1e6, (OS.getProcessCpuTime() - cpu) / 1e6);
        }
    }

    /** The first line of a report: the program, cores, OS and JVM. */
    static String header(String program) {
        return String.format(Locale.ROOT, "peft4j %s (%d cores, %s %s, JVM %s)", program,
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"),
                System.getProperty("os.arch"), System.getProperty("java.version"));
    }

    /**
     * Collects garbage and waits for the freed direct buffers to be released, so that each timed call starts from the
     * same state: without the pause the second call of a round ran before the first's garbage was returned and paid
     * for fresh pages (a 4x swing on the machine measured).
     */
    static void collect() {
        System.gc();
        try {
            Thread.sleep(500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.gc();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }

    /** {@code "median [min, max]"} with the given number format. */
    static String range(double[] v, String fmt) {
        return String.format(Locale.ROOT, fmt + " [" + fmt + ", " + fmt + "]", median(v), min(v), max(v));
    }

    /** The value of option {@code name} at {@code args[i]}, or a clear error if it is missing. */
    static String value(String[] args, int i) {
        if (i + 1 >= args.length) {
            throw new IllegalArgumentException("option " + args[i] + " needs a value");
        }
        return args[i + 1];
    }
}
