package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.peft.PeftModel;

/**
 * Calls with explicit adapter names (PEFT's {@code adapter_names}) never read the shared active adapter, so {@code
 * set_adapter} may run beside them; but they do see disabling (as in PEFT), so {@code disable_adapter} during such a
 * call is refused loudly, and a call that a change overlapped throws instead of returning a mixed answer.
 */
class NamedAdapterGuardTest {
    @Test
    void disableDuringANamedCallIsRefusedWhileSetAdapterIsNot() throws Exception {
        PeftModel pm = MixedBatchLoraTest.load("llama-mha");
        long[][] prompt = {{5, 9, 13, 2}, {7, 11, 3, 8}};
        GenerationConfig cfg = GenerationConfig.builder().maxNewTokens(40).build();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> readerError = new AtomicReference<>();
        Thread reader = new Thread(() -> {
            try {
                while (!stop.get()) {
                    try {
                        pm.generate(prompt, null, cfg, List.of("a", "b"));
                    } catch (ConcurrentModificationException e) {
                        // a change overlapped: reported, not answered
                    }
                }
            } catch (Throwable e) {
                readerError.set(e);
            }
        });
        reader.start();
        int refused = 0;
        int setAdapterRefused = 0;
        long end = System.nanoTime() + 3_000_000_000L;
        while (System.nanoTime() < end && refused < 5) {
            try {
                pm.setAdapter("b");
                pm.setAdapter("a");
            } catch (IllegalStateException e) {
                setAdapterRefused++;
            }
            try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
                // disabled for an instant
                assertThat(off).isNotNull();
            } catch (IllegalStateException e) {
                assertThat(e.getMessage()).contains("explicit adapter names");
                refused++;
            }
        }
        stop.set(true);
        reader.join();
        assertThat(readerError.get()).isNull();
        assertThat(setAdapterRefused).as("set_adapter beside named calls").isZero();
        assertThat(refused).as("disable_adapter refused during named calls").isPositive();
    }
}
