package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.graph.Parameter;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Quantize-at-load streams: a random Llama (8 layers, hidden 512, intermediate 1408, vocab 1024; 26.7M parameters,
 * 107 MB in float32) saved in bfloat16 loads in 4 bits in a JVM whose heap and direct memory are each capped at
 * {@value #LIMIT_MB} MB, less than half its float32 size, and then holds under a quarter of it; the same folder loaded in
 * float32 under the same caps runs out of memory (the control that shows the caps bite).
 */
class StreamingLoadTest {
    static final int LIMIT_MB = 48;

    @Test
    void fourBitLoadFitsInAFractionOfTheFloat32Size(@TempDir Path tmp) throws Exception {
        long numel = writeRandomLlama(tmp);
        long float32Bytes = numel * 4;
        assertThat(float32Bytes).isGreaterThan(2L * LIMIT_MB * 1024 * 1024);
        Run q = run(tmp, "4bit");
        assertThat(q.exit).as(q.out).isZero();
        String[] f = q.out.lines().filter(l -> l.startsWith("OK ")).findFirst().orElseThrow().split(" ");
        assertThat(Long.parseLong(f[1])).isEqualTo(8 * 7);
        long peakHeap = Long.parseLong(f[2]);
        long direct = Long.parseLong(f[3]);
        System.out.printf("4-bit load of a %.1f MB float32 model (bf16 checkpoint): %.1f s, peak heap %.1f MB, "
                + "direct memory retained after GC %.1f MB (caps %d MB each)%n", float32Bytes / 1e6, Double.parseDouble(f[4]),
                peakHeap / 1e6, direct / 1e6, LIMIT_MB);
        // what the loaded model holds: packed codes (13.4 MB), absmax, float32 embeddings, lm_head and norms (4.2 MB)
        assertThat(direct).isLessThan(float32Bytes / 4);
        Run control = run(tmp, "float32");
        assertThat(control.exit).as("float32 load under the same caps should run out of memory").isNotZero();
        assertThat(control.out).contains("OutOfMemoryError");
    }

    record Run(int exit, String out) {
    }

    private static Run run(Path dir, String mode) throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + LIMIT_MB + "m", "-XX:MaxDirectMemorySize="
                + LIMIT_MB + "m", "-XX:+UseSerialGC", "-cp", cp, StreamingLoadMain.class.getName(), dir.toString(),
                mode));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out");
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Writes config.json and a bfloat16 model.safetensors of random weights (norms 1); returns the element count. */
    static long writeRandomLlama(Path dir) throws Exception {
        String cfg = "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 512, "
                + "\"intermediate_size\": 1408, \"num_hidden_layers\": 8, \"num_attention_heads\": 8, "
                + "\"num_key_value_heads\": 8, \"vocab_size\": 1024, \"max_position_embeddings\": 128, "
                + "\"rms_norm_eps\": 1e-06, \"tie_word_embeddings\": false, \"dtype\": \"bfloat16\"}";
        Files.writeString(dir.resolve("config.json"), cfg);
        PreTrainedModel shape = AutoModelForCausalLM.fromConfig(ModelConfig.parse(cfg));
        Random rnd = new Random(5);
        Map<String, Tensor> sd = new LinkedHashMap<>();
        long numel = 0;
        for (Map.Entry<String, Parameter> e : shape.namedParameters().entrySet()) {
            int n = Math.toIntExact(e.getValue().numel());
            float[] v = new float[n];
            boolean norm = e.getKey().endsWith("norm.weight");
            for (int i = 0; i < n; i++) {
                v[i] = norm ? 1f : (float) (rnd.nextGaussian() * 0.02);
            }
            sd.put(e.getKey(), Tensor.of(v, e.getValue().shape()).to(DType.BF16));
            numel += n;
        }
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), sd, SafeTensorsWriter.PT_METADATA);
        return numel;
    }
}
