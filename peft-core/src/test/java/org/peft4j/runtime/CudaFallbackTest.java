package org.peft4j.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtProvider;
import java.util.EnumSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The CUDA fallback as the GPU jar meets it on a machine without CUDA: the provider is listed, but starting it fails
 * (ORT_EP_FAIL "Failed to find CUDA shared provider", or the provider library's load error). The failure is injected
 * here so CI needs no GPU jar; {@code mvn -Pcuda -pl peft-core test -Dtest=CudaFallbackTest,OrtRuntimeTest} runs the
 * real path.
 */
class CudaFallbackTest {
    private static final EnumSet<OrtProvider> GPU_JAR = EnumSet.of(OrtProvider.CPU, OrtProvider.CUDA);

    @Test
    void listedButUnloadableCudaFallsBackWhenAllowed() {
        AtomicInteger probedIndex = new AtomicInteger(-1);
        Device d = OrtRuntime.resolveDevice(Device.cuda(1).orCpuFallback(), () -> GPU_JAR, i -> {
            probedIndex.set(i);
            throw new IllegalStateException("Failed to find CUDA shared provider");
        });
        assertThat(d).isEqualTo(Device.cpu());
        assertThat(probedIndex.get()).isEqualTo(1);
    }

    @Test
    void listedButUnloadableCudaFailsWithoutFallback() {
        assertThatThrownBy(() -> OrtRuntime.resolveDevice(Device.cuda(), () -> GPU_JAR, i -> {
            throw new UnsatisfiedLinkError("libcudnn.so.9: cannot open shared object file");
        })).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("libcudnn.so.9").hasMessageContaining("CUDA 12.x")
                .hasCauseInstanceOf(UnsatisfiedLinkError.class);
    }

    @Test
    void workingCudaIsKept() {
        Device requested = Device.cuda(0).orCpuFallback();
        assertThat(OrtRuntime.resolveDevice(requested, () -> GPU_JAR, i -> { })).isEqualTo(requested);
    }

    @Test
    void cpuBuildWithoutCudaNeverProbes() {
        Device d = OrtRuntime.resolveDevice(Device.cuda().orCpuFallback(), () -> EnumSet.of(OrtProvider.CPU), i -> {
            throw new AssertionError("probed a build without CUDA");
        });
        assertThat(d).isEqualTo(Device.cpu());
        assertThat(OrtRuntime.resolveDevice(Device.cpu(), () -> {
            throw new AssertionError("asked for providers for the CPU");
        }, i -> { })).isEqualTo(Device.cpu());
    }

    @Test
    void autoParsesToCudaWithFallback() {
        assertThat(Device.parse("auto")).isEqualTo(Device.cuda().orCpuFallback());
        assertThat(Device.parse("cpu")).isEqualTo(Device.cpu());
        assertThat(Device.parse("cuda:1")).isEqualTo(Device.cuda(1));
    }

    @Test
    void sharedRuntimeTakesADeviceRequestThatResolvesToItsOwn() {
        OrtRuntime s = OrtRuntime.shared();
        assertThat(OrtRuntime.configureShared(RuntimeOptions.builder().optDevice(s.device()).build())).isSameAs(s);
        if (s.device().equals(Device.cpu()) && !ai.onnxruntime.OrtEnvironment.getAvailableProviders()
                .contains(OrtProvider.CUDA)) {
            assertThat(OrtRuntime.configureShared(RuntimeOptions.builder().optDevice(Device.parse("auto")).build()))
                    .isSameAs(s);
        }
        assertThatThrownBy(() -> OrtRuntime.configureShared(RuntimeOptions.builder().optDevice(s.device())
                .optIntraOpThreads(s.options().intraOpThreads() + 1).build()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("configureShared before");
    }
}
