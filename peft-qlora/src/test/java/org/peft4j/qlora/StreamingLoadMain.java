package org.peft4j.qlora;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.tensor.DType;

/**
 * Loads a model folder in a JVM of its own (started by {@link StreamingLoadTest} with a small heap and direct-memory
 * limit): {@code 4bit} quantizes it at load (nf4, double quant), {@code float32} loads it in float32. Prints one line
 * {@code OK <linear4bit modules> <peak heap bytes> <direct bytes retained after a GC> <seconds> <parameters>}; an
 * out-of-memory error exits non-zero.
 */
public final class StreamingLoadMain {
    private StreamingLoadMain() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long t0 = System.nanoTime();
        PreTrainedModel m;
        if (args[1].equals("4bit")) {
            m = AutoModelForCausalLM.fromPretrained(dir, BitsAndBytesConfig.builder().loadIn4bit(true)
                    .bnb4bitQuantType("nf4").bnb4bitUseDoubleQuant(true).bnb4bitComputeDtype(DType.BF16).build());
        } else {
            m = AutoModelForCausalLM.fromPretrained(dir, DType.F32);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        long n4 = m.namedModules().values().stream().filter(x -> x instanceof Linear4bit).count();
        long peakHeap = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
                peakHeap += p.getPeakUsage().getUsed();
            }
        }
        System.gc();
        Thread.sleep(200); // lets the cleaner free the direct buffers of the tensors that were converted or quantized
        System.gc();
        long direct = 0;
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (b.getName().equals("direct")) {
                direct = b.getMemoryUsed();
            }
        }
        System.out.println("OK " + n4 + " " + peakHeap + " " + direct + " " + secs + " " + m.numParameters());
    }
}
