package org.peft4j.runtime;

import java.util.Objects;

/**
 * Where graphs run: the CPU (default) or a CUDA device. A CUDA device may allow a logged fallback to the CPU when
 * CUDA is not available; without it, asking for CUDA where it is missing is an error.
 */
public final class Device {
    /** The kind of device. */
    public enum Kind {
        /** The CPU. */
        CPU,
        /** An NVIDIA GPU through ONNX Runtime's CUDA execution provider. */
        CUDA
    }

    private static final Device CPU = new Device(Kind.CPU, 0, false);

    private final Kind kind;
    private final int index;
    private final boolean fallbackToCpu;

    private Device(Kind kind, int index, boolean fallbackToCpu) {
        this.kind = kind;
        this.index = index;
        this.fallbackToCpu = fallbackToCpu;
    }

    /**
     * The CPU.
     *
     * @return the CPU device
     */
    public static Device cpu() {
        return CPU;
    }

    /** CUDA device 0. */
    public static Device cuda() {
        return cuda(0);
    }

    /**
     * A CUDA device without CPU fallback.
     *
     * @param index the CUDA device index (0 for the first GPU)
     * @return the device
     * @throws IllegalArgumentException if {@code index} is negative
     */
    public static Device cuda(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("negative CUDA device index " + index);
        }
        return new Device(Kind.CUDA, index, false);
    }

    /** The same device, falling back to the CPU with a warning when it cannot be used. */
    public Device orCpuFallback() {
        return new Device(kind, index, true);
    }

    /**
     * Parses {@code "cpu"}, {@code "cuda"}, {@code "cuda:N"} or {@code "auto"} (CUDA device 0 where it can be
     * started, else the CPU with one warning: {@code cuda().orCpuFallback()}).
     */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) {
            return cpu();
        }
        if (t.equals("auto")) {
            return cuda().orCpuFallback();
        }
        if (t.equals("cuda")) {
            return cuda();
        }
        if (t.startsWith("cuda:")) {
            return cuda(Integer.parseInt(t.substring(5)));
        }
        throw new IllegalArgumentException("unknown device '" + s + "', expected cpu, cuda, cuda:N or auto");
    }

    /**
     * CPU or CUDA.
     *
     * @return the kind
     */
    public Kind kind() {
        return kind;
    }

    /**
     * The CUDA device index (0 for the CPU).
     *
     * @return the index
     */
    public int index() {
        return index;
    }

    /**
     * Whether a runtime that cannot start this device falls back to the CPU (with a warning) instead of throwing
     * {@link DeviceUnavailableException}.
     *
     * @return true when fallback is allowed
     */
    public boolean allowsCpuFallback() {
        return fallbackToCpu;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Device)) {
            return false;
        }
        Device d = (Device) o;
        return kind == d.kind && index == d.index && fallbackToCpu == d.fallbackToCpu;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, index, fallbackToCpu);
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
