package org.peft4j.qlora;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.nn.Module;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Writes {@code interop/fixtures/io/java-saved/<case>/}: the fixture float model quantized at load by peft4j, saved
 * with {@code savePretrained} ({@code model/}), with the logits and greedy generation peft4j computes on it
 * ({@code expected.safetensors}) and the modules it quantized ({@code case.json}); {@code interop/check_io_saved.py}
 * then loads each folder with transformers + bitsandbytes and records the verdict in {@code report.json}.
 *
 * <p>Run: {@code JavaSavedFixtures.main([outputRoot])} on the peft-qlora test classpath (see interop/README.md).
 */
public final class JavaSavedFixtures {
    static final int NEW_TOKENS = 8;
    static final int PROMPT = 5;

    private JavaSavedFixtures() {
    }

    /** Case name to the config it quantizes with. */
    static Map<String, BitsAndBytesConfig> cases() {
        Map<String, BitsAndBytesConfig> c = new LinkedHashMap<>();
        c.put("nf4-dq", BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4")
                .bnb4bitUseDoubleQuant(true).bnb4bitComputeDtype(DType.BF16).build());
        return c;
    }

    public static void main(String[] args) throws Exception {
        Path root = args.length > 0 ? Path.of(args[0]) : Fixtures.root().resolve("io").resolve("java-saved");
        for (Map.Entry<String, BitsAndBytesConfig> e : cases().entrySet()) {
            write(root.resolve(e.getKey()), e.getValue());
        }
    }

    static void write(Path dir, BitsAndBytesConfig config) throws Exception {
        PreTrainedModel m = AutoModelForCausalLM.fromPretrained(IoFixtures.folder("float"), config);
        m.savePretrained(dir.resolve("model"));
        Map<String, Tensor> expected = new LinkedHashMap<>();
        try (SafeTensors ref = SafeTensors.open(IoFixtures.reference())) {
            Tensor ids = ref.get("input_ids").copy();
            expected.put("input_ids", ids);
            long[] ones = new long[(int) ids.numel()];
            Arrays.fill(ones, 1);
            expected.put("logits", m.logits(ids, Tensor.of(ones, ids.shape())));
            long[] prompt = Arrays.copyOf(ids.toLongArray(), PROMPT);
            long[] gen = new Generator(m).generate(prompt, GenerationConfig.greedy(NEW_TOKENS));
            expected.put("generate", Tensor.of(gen, 1, gen.length));
        }
        SafeTensorsWriter.write(dir.resolve("expected.safetensors"), expected, SafeTensorsWriter.PT_METADATA);
        JsonObject c = new JsonObject();
        JsonArray names = new JsonArray();
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) {
            if (e.getValue() instanceof Linear4bit) {
                names.add(e.getKey());
            }
        }
        c.add("linear4bit", names);
        c.addProperty("new_tokens", NEW_TOKENS);
        c.addProperty("source", "interop/fixtures/io/float quantized at load by AutoModelForCausalLM.fromPretrained"
                + "(dir, " + config.toJson() + ")");
        Files.writeString(dir.resolve("case.json"), new GsonBuilder().setPrettyPrinting().create().toJson(c) + "\n",
                StandardCharsets.UTF_8);
    }
}
