package org.peft4j.peft.prompt;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;

/**
 * Issue 16 section 4: two threads calling one PeftModel while a third switches adapters got answers computed with
 * the wrong adapter, silently. Now every answer that is returned is exactly one adapter's (as computed alone), and
 * the races are reported: set_adapter / disable_adapter refuse to run during a call, and a call that a switch
 * overlapped throws instead of returning.
 */
class ConcurrentAdapterSwitchTest {
    @Test
    void switchingDuringInferenceFailsLoudlyAndNoAnswerMixesAdapters() throws Exception {
        PeftModel pm = Peft.getPeftModel(PromptLearningCoreTest.base(), new VirtualTokensConfig(3));
        pm.addAdapter("other", new VirtualTokensConfig(2));
        Tensor x = Tensor.of(new long[] {5, 9, 17, 4}, 1, 4);
        float[] refDefault = pm.logits(x, null).toFloatArray();
        pm.setAdapter("other");
        float[] refOther = pm.logits(x, null).toFloatArray();
        float[] refNone;
        try (PeftModel.AdapterDisabled off = pm.disableAdapter()) {
            refNone = pm.logits(x, null).toFloatArray();
        }
        assertThat(refOther).isNotEqualTo(refDefault);
        assertThat(refNone).isNotEqualTo(refDefault).isNotEqualTo(refOther);

        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger answers = new AtomicInteger();
        AtomicInteger overlapped = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            Thread r = new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < 30; i++) {
                        try {
                            float[] got = pm.logits(x, null).toFloatArray();
                            answers.incrementAndGet();
                            if (!Arrays.equals(got, refDefault) && !Arrays.equals(got, refOther)
                                    && !Arrays.equals(got, refNone)) {
                                wrong.add("call " + i + " returned logits of no single adapter");
                            }
                        } catch (ConcurrentModificationException e) {
                            overlapped.incrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    wrong.add("reader: " + e);
                }
            });
            r.start();
            readers.add(r);
        }
        Thread switcher = new Thread(() -> {
            try {
                start.await();
                for (int i = 0; !done.get(); i++) {
                    try {
                        if (i % 3 == 2) {
                            PeftModel.AdapterDisabled off = pm.disableAdapter();
                            while (true) {
                                try {
                                    off.close();
                                    break;
                                } catch (IllegalStateException e) {
                                    // refused while a call runs: the adapters stay disabled until it succeeds
                                    refused.incrementAndGet();
                                    Thread.onSpinWait();
                                }
                            }
                        } else {
                            pm.setAdapter(i % 3 == 0 ? "default" : "other");
                        }
                    } catch (IllegalStateException e) {
                        assertThat(e.getMessage()).contains("inference call(s) run on this PeftModel");
                        refused.incrementAndGet();
                    }
                }
            } catch (Throwable e) {
                wrong.add("switcher: " + e);
            }
        });
        switcher.start();
        start.countDown();
        for (Thread r : readers) {
            r.join();
        }
        done.set(true);
        switcher.join();
        assertThat(wrong).isEmpty();
        assertThat(answers.get() + overlapped.get()).isEqualTo(60);
        assertThat(answers.get()).isPositive();
        // the switcher runs all the time the readers do: its switches are refused while calls run
        assertThat(refused.get() + overlapped.get()).isPositive();
        // between calls, switching works as before
        pm.setAdapter("default");
        assertThat(pm.logits(x, null).toFloatArray()).containsExactly(refDefault);
    }
}
