package org.peft4j.qlora;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.peft4j.autodiff.Autodiff;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.runtime.CompiledGraph;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Peak resident memory of a forward + input-gradient run through a chain of 8 4-bit layers W [2048, 2048]
 * (16 MiB each in float32, 2 MiB packed), x [512, 2048], with the kernel given by {@code -Dpeft4j.kernel}. Run one
 * kernel per JVM with {@code -Dpeft4j.bench=true}: VmHWM only grows.
 */
@EnabledIfSystemProperty(named = "peft4j.bench", matches = "true")
class Linear4bitMemoryBench {
    static long kib(String field) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    @Test
    void peakMemory() throws Exception {
        Linear4bit.Kernel k = Linear4bit.Kernel.valueOf(System.getProperty("peft4j.kernel", "MATMUL_BNB4"));
        Linear4bit.Kernel.forced = k;
        List<Linear4bit> layers = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            layers.add(Linear4bitKernelBench.randomLayer(2048, 2048));
        }
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of("m"), Dim.of(2048));
        Value h = x;
        for (Linear4bit l : layers) {
            h = g.tanh(l.forward(g, h));
        }
        Value loss = g.reduceSum(h, false, 0, 1);
        g.output("dx", Autodiff.gradients(g, loss, List.of(x)).gradient(x));
        float[] xs = new float[512 * 2048];
        Random r = new Random(3);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextGaussian();
        }
        Tensor xt = Tensor.of(xs, 512, 2048);
        try (CompiledGraph cg = OrtRuntime.shared().compile(g, p -> false)) {
            long before = kib("VmRSS");
            long hwm0 = kib("VmHWM");
            cg.run(Map.of("x", xt));
            cg.run(Map.of("x", xt));
            System.out.printf("MEM %s rss before %d MiB, peak %d MiB (peak before %d MiB)%n", k, before / 1024,
                    kib("VmHWM") / 1024, hwm0 / 1024);
        } finally {
            Linear4bit.Kernel.forced = null;
        }
    }
}
