package org.peft4j.qlora;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.peft4j.data.Batch;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * Writes {@code interop/fixtures/layer/java-qlora/}: a QLoRA adapter trained by peft4j (kbit preparation, LoRA r 4 on
 * all projections of the 4-bit tiny Llama, three AdamW steps on the fixture batch), saved with
 * {@code PeftModel.savePretrained}, and the logits peft4j computes with it. {@code interop/check_layer_java_adapter.py}
 * loads it with PEFT on the bnb 4-bit base and records its verdict in {@code report.json}. Run
 * {@code main([outputDir])} on the test classpath.
 */
public final class QloraJavaAdapterFixture {
    private QloraJavaAdapterFixture() {
    }

    static Path dir() {
        return LayerFixtures.dir().resolve("java-qlora");
    }

    public static void main(String[] args) throws Exception {
        Path out = args.length > 0 ? Paths.get(args[0]) : dir();
        write(out);
        System.out.println("wrote " + out);
    }

    static void write(Path out) throws Exception {
        if (Files.exists(out)) {
            try (Stream<Path> s = Files.walk(out)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(out);
        Map<String, Tensor> want = QloraFixture.expected();
        PreTrainedModel base = KbitTraining.prepareModelForKbitTraining(QloraFixture.base4bit(), false);
        base.setNameOrPath("interop/fixtures/layer/qlora/base");
        PeftModel pm = Peft.getPeftModel(base, QloraInteropTest.config());
        Batch batch = new Batch(want.get("input_ids"), want.get("attention_mask"), want.get("labels"));
        Path work = Files.createTempDirectory("java-qlora");
        TrainingArguments args = TrainingArguments.builder(work).learningRate(1e-2).maxSteps(3).build();
        new Trainer(pm.getBaseModel(), args, OrtRuntime.shared()).showProgress(false)
                .train(List.of(batch, batch, batch));
        pm.savePretrained(out.resolve("adapter"));
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("input_ids", want.get("input_ids"));
        t.put("attention_mask", want.get("attention_mask"));
        t.put("logits", pm.logits(want.get("input_ids"), want.get("attention_mask")));
        SafeTensorsWriter.write(out.resolve("expected.safetensors"), t);
        JsonObject c = new JsonObject();
        c.addProperty("base", "interop/fixtures/layer/qlora/base");
        c.addProperty("written_by", "peft4j " + QloraJavaAdapterFixture.class.getName());
        c.addProperty("notes", "kbit-prepared 4-bit tiny Llama, LoRA r=4 alpha=8 on all projections, 3 AdamW steps "
                + "(lr 1e-2) on the fixture batch");
        Files.writeString(out.resolve("case.json"), new GsonBuilder().setPrettyPrinting().create().toJson(c) + "\n",
                StandardCharsets.UTF_8);
    }
}
