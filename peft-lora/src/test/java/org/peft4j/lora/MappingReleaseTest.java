package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Creating and closing many PeftModels over one base and runtime leaves no memory mappings behind (issue 16 §4): the
 * lines of /proc/self/maps that name the adapter files or ONNX Runtime's placeholder file do not grow with the
 * number of create/load/run/close cycles. Linux only.
 */
@EnabledOnOs(OS.LINUX)
class MappingReleaseTest {
    static long mappings(List<Path> files) throws Exception {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(l -> l.contains("peft4j-placeholder") || files.stream().anyMatch(f -> l.endsWith(f.toString())))
                .count();
    }

    @Test
    void createLoadRunCloseCyclesKeepNoMappings() throws Exception {
        Path dir = Fixtures.root().resolve("mixed-batch").resolve("llama-mha");
        List<Path> files = List.of(dir.resolve("a/adapter_model.safetensors").toRealPath(),
                dir.resolve("b/adapter_model.safetensors").toRealPath());
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model("llama-mha"));
        Tensor ids = Tensor.of(new long[] {5, 9, 13, 2}, 1, 4);
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
        cycle.run();
        long before = mappings(files);
        int n = 40;
        for (int i = 0; i < n; i++) {
            cycle.run();
        }
        long after = mappings(files);
        assertThat(after - before).as("mappings after %d cycles (before: %d)", n, before).isLessThanOrEqualTo(2);
    }
}
