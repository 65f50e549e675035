package org.peft4j.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.testutil.Fixtures;

/** ONNX Runtime's native calls run on large-stack threads, so that programs need no {@code -Xss}. */
class NativeStackTest {

    @Test
    void callsRunOnALargeStackThreadAndNestedCallsRunInPlace() {
        String outer = NativeStack.call(() -> Thread.currentThread().getName());
        assertThat(outer).startsWith("peft4j-ort-");
        assertThat(NativeStack.onBigStack()).isFalse();
        String[] inner = new String[2];
        NativeStack.call(() -> {
            inner[0] = Thread.currentThread().getName();
            inner[1] = NativeStack.call(() -> Thread.currentThread().getName());
            return null;
        });
        assertThat(inner[1]).isEqualTo(inner[0]);
    }

    @Test
    void exceptionsReachTheCallerUnchangedWithTheCallersStack() {
        OrtException checked = new OrtException("boom");
        assertThatThrownBy(() -> NativeStack.call(() -> {
            throw checked;
        })).isSameAs(checked);
        assertThat(checked.getSuppressed()).hasSize(1);
        assertThat(checked.getSuppressed()[0]).isInstanceOf(NativeStack.CallerStack.class)
                .hasMessage("called from thread '" + Thread.currentThread().getName() + "'");
        IllegalStateException unchecked = new IllegalStateException("bad");
        assertThatThrownBy(() -> NativeStack.call(() -> {
            throw unchecked;
        })).isSameAs(unchecked);
    }

    @Test
    void anInterruptWaitsForTheCallAndIsKept() throws InterruptedException {
        Thread.currentThread().interrupt();
        try {
            String r = NativeStack.call(() -> {
                Thread.sleep(200);
                return "done";
            });
            assertThat(r).isEqualTo("done");
            assertThat(Thread.interrupted()).as("the interrupt flag is restored").isTrue();
        } finally {
            Thread.interrupted();
        }
    }

    /**
     * A JVM with the default 1 MiB thread stack and this test's class path runs a forward pass and training steps on
     * its main thread. Before {@link NativeStack}, ONNX Runtime overflowed that stack and the JVM died with SIGSEGV
     * (exit code 134 or 139, no Java stack trace).
     */
    @Test
    void aPlainMainWithTheDefaultStackTrains(@TempDir Path out) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xss1m");
        cmd.add("-Xmx512m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(DefaultStackMain.class.getName());
        cmd.add(Fixtures.model("llama-mha").toString());
        cmd.add(out.resolve("run").toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        boolean done = p.waitFor(180, TimeUnit.SECONDS);
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertThat(done).as("finished in time; output:%n%s", output).isTrue();
        assertThat(p.exitValue()).as("exit code; output:%n%s", output).isZero();
        assertThat(output).contains("ok logits ").contains(" on main");
    }
}
