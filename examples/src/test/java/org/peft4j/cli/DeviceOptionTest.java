package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --device} on the commands that run a model, on this CPU build of ONNX Runtime. */
class DeviceOptionTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path adapter;

    @BeforeAll
    static void setUp() throws IOException {
        model = CliFixtures.tinyModel(Files.createDirectories(shared.resolve("model")));
        adapter = CliFixtures.randomAdapter(model, shared.resolve("adapter"));
    }

    @Test
    void everyModelCommandHasTheOption() {
        for (String cmd : new String[] {"demo", "finetune", "generate", "merge"}) {
            CliFixtures.Run r = CliFixtures.run(cmd, "--help");
            assertThat(r.out()).as(cmd).contains("--device=DEVICE").contains("cpu, cuda, cuda:N, or auto");
        }
    }

    @Test
    void unknownDeviceIsAUsageError() {
        CliFixtures.Run r = CliFixtures.run("generate", "--model", model.toString(), "--prompt", "Hi",
                "--device", "tpu");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.err()).contains("Invalid value for option '--device'").contains("unknown device 'tpu'");
    }

    @Test
    void autoRunsOnTheCpuWhenCudaIsMissing(@TempDir Path out) {
        CliFixtures.Run g = CliFixtures.run("generate", "--model", model.toString(), "--prompt", "Hi",
                "--max-new-tokens", "3", "--device", "auto");
        assertThat(g.exitCode()).as(g.toString()).isZero();
        assertThat(g.out()).contains("answer:");
        CliFixtures.Run m = CliFixtures.run("merge", "--model", model.toString(), "--adapter", adapter.toString(),
                "--output-dir", out.toString(), "--device", "auto");
        assertThat(m.exitCode()).as(m.toString()).isZero();
        assertThat(out.resolve("model.safetensors")).isRegularFile();
    }

    @Test
    void cudaWithoutTheGpuBuildFailsWithTheSwap() throws Exception {
        assumeFalse(OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA), "a CUDA build of ORT");
        CliFixtures.Run r = CliFixtures.run("generate", "--model", model.toString(), "--prompt", "Hi",
                "--device", "cuda");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(r.err()).contains("peft4j generate: error: CUDA device cuda:0 was requested")
                .contains("onnxruntime_gpu");
    }
}
