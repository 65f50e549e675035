package org.peft4j.cli;

import org.peft4j.runtime.Device;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.runtime.RuntimeOptions;
import picocli.CommandLine.Option;

/**
 * {@code --device cpu|cuda|cuda:N|auto} of every command that runs a model: it sets the device of the shared ONNX
 * Runtime before the first session, so training, evaluation, generation and merges all run there.
 */
final class DeviceOptions {
    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu", description = "Where the model runs: "
            + "cpu, cuda, cuda:N, or auto (CUDA where it can be started, else the CPU with a warning); CUDA needs "
            + "the onnxruntime_gpu jar, CUDA 12.x and cuDNN 9.x (default: ${DEFAULT-VALUE}).")
    String device;

    /** The parsed device; a bad name is a usage error of {@code command}. */
    Device device(CliCommand command) {
        try {
            return Device.parse(device);
        } catch (IllegalArgumentException e) {
            throw command.usage("Invalid value for option '--device': " + e.getMessage());
        }
    }

    /** Puts the shared runtime on the chosen device and returns the device it actually runs on. */
    Device apply(CliCommand command) {
        return OrtRuntime.configureShared(RuntimeOptions.builder().optDevice(device(command)).build()).device();
    }
}
