package org.peft4j.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Parameter;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** 1,000 runs must not grow native memory: every ORT tensor and result is closed. */
class NativeMemoryTest {

    static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void thousandRunsDoNotGrowResidentMemory() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/self/status")), "needs Linux /proc");
        Parameter w = new Parameter(Tensor.zeros(DType.F32, 256, 256));
        Graph g = new Graph();
        g.nameParameters(Map.of("w", w));
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(256));
        g.output("y", g.softmax(g.gemm(x, g.param(w), null, false, true), -1));
        // each kept run holds ~256 KiB of native outputs: leaking them would show as >= 250 MB over 1,000 runs
        Tensor in = Tensor.zeros(DType.F32, 256, 256);
        Tensor small = Tensor.zeros(DType.F32, 1, 256);
        try (OrtRuntime rt = new OrtRuntime(RuntimeOptions.defaults())) {
            CompiledGraph cg = rt.compile(g, p -> false);
            for (int i = 0; i < 200; i++) {
                cg.run(Map.of("x", small));
                cg.runKeep(Map.of("x", in)).close();
            }
            System.gc();
            long before = rssKb();
            for (int i = 0; i < 1000; i++) {
                cg.run(Map.of("x", small));
                try (CompiledGraph.Outputs out = cg.runKeep(Map.of("x", in))) {
                    assertThat(out.names()).containsExactly("y");
                }
            }
            System.gc();
            long after = rssKb();
            assertThat(after - before).as("RSS growth in KiB").isLessThan(40_000);
        }
    }
}
