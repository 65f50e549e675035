package org.peft4j.bench;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * Reports the process CPU time (all threads, ONNX Runtime's pool included) spent inside the timed calls as the
 * secondary result {@code cpu} (ms per iteration). On a shared machine wall-clock times include the time a process
 * waits for a core; CPU time does not, so it is the steadier of the two figures. Benchmarks bracket the measured
 * call with {@link #start()} and {@link #stop(long)}, which keeps untimed setup out of the figure.
 */
public final class CpuTimeProfiler implements InternalProfiler {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private static final AtomicLong NANOS = new AtomicLong();

    /** The process CPU time now, in ns. */
    static long start() {
        return OS.getProcessCpuTime();
    }

    /** Adds the process CPU time since {@code start} to the current iteration. */
    static void stop(long start) {
        NANOS.addAndGet(OS.getProcessCpuTime() - start);
    }

    @Override
    public String getDescription() {
        return "process CPU time inside the timed calls (ms)";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        NANOS.set(0);
    }

    @Override
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
            IterationParams iterationParams, IterationResult result) {
        return List.of(new ScalarResult("cpu", NANOS.getAndSet(0) / 1e6, "ms", AggregationPolicy.AVG));
    }
}
