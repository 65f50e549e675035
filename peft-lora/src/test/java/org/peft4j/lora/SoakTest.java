package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.TrainStep;

/**
 * A short soak in every build (issue 16 §5): many training steps, and many PeftModel create / load / run / close
 * cycles over one base model and the shared runtime, hold a flat retained heap (measured after garbage collection,
 * once warm and at the end), and the cycles leave no cached ONNX Runtime session behind (native memory that the
 * heap does not show). {@code -Dpeft4j.soakSteps} and
 * {@code -Dpeft4j.soakCycles} make it long (docs/RELIABILITY.md gives the command and the measured figures).
 */
class SoakTest {
    static final long HEAP_SLACK = 16L << 20;   // 16 MiB: GC noise on a small heap, far below a per-cycle leak

    static long retainedHeap() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(20);
            best = Math.min(best, rt.totalMemory() - rt.freeMemory());
        }
        return best;
    }

    @Test
    void trainingStepsKeepAFlatHeap() throws Exception {
        int steps = Integer.getInteger("peft4j.soakSteps", 300);
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        PeftModel pm = Peft.getPeftModel(base, LoraConfig.builder().r(4).loraAlpha(8)
                .targetModules("q_proj", "v_proj").build());
        Tensor ids = Tensor.of(new long[] {5, 9, 13, 2, 7, 11, 3, 8}, 2, 4);
        Batch batch = new Batch(ids, Tensor.of(new long[] {1, 1, 1, 1, 1, 1, 1, 1}, 2, 4), ids);
        try (TrainStep step = new TrainStep(pm.getBaseModel(), OrtRuntime.shared())) {
            int warm = Math.min(50, steps / 2);
            for (int i = 0; i < warm; i++) {
                step.run(batch);
            }
            long warmHeap = retainedHeap();
            for (int i = warm; i < steps; i++) {
                step.run(batch);
            }
            long endHeap = retainedHeap();
            System.out.printf("soak: %d training steps, retained heap %.1f -> %.1f MiB%n", steps,
                    warmHeap / 1048576.0, endHeap / 1048576.0);
            assertThat(endHeap - warmHeap).as("heap growth over %d steps", steps - warm).isLessThan(HEAP_SLACK);
        }
    }

    @Test
    void createLoadRunCloseCyclesKeepAFlatHeapAndSessionCount() throws Exception {
        int cycles = Integer.getInteger("peft4j.soakCycles", 60);
        Path dir = Fixtures.root().resolve("mixed-batch").resolve("llama-mha");
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        Tensor ids = Tensor.of(new long[] {5, 9, 13, 2}, 1, 4);
        OrtRuntime rt = OrtRuntime.shared();
        Runnable cycle = () -> {
            try (PeftModel pm = PeftModel.fromPretrained(base, dir.resolve("a"), "a", false)) {
                pm.loadAdapter(dir.resolve("b"), "b", false);
                pm.logits(ids, null);
                pm.logits(ids, null, List.of("b"));
                pm.close();
                pm.unload();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        };
        int baseline = rt.cachedSessions();
        int warm = Math.min(20, cycles / 2);
        for (int i = 0; i < warm; i++) {
            cycle.run();
        }
        long warmHeap = retainedHeap();
        int warmSessions = rt.cachedSessions();
        for (int i = warm; i < cycles; i++) {
            cycle.run();
        }
        long endHeap = retainedHeap();
        System.out.printf("soak: %d PeftModel cycles, retained heap %.1f -> %.1f MiB, cached sessions %d -> %d%n",
                cycles, warmHeap / 1048576.0, endHeap / 1048576.0, warmSessions, rt.cachedSessions());
        // a closed PeftModel releases the sessions bound to its weights: none are left by the cycles
        assertThat(rt.cachedSessions()).as("cached sessions").isLessThanOrEqualTo(baseline);
        assertThat(endHeap - warmHeap).as("heap growth over %d cycles", cycles - warm).isLessThan(HEAP_SLACK);
    }
}
