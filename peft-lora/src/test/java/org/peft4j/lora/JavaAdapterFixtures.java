package org.peft4j.lora;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.peft4j.data.Batch;
import org.peft4j.graph.Parameter;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.safetensors.SafeTensorsWriter;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;

/**
 * Writes {@code interop/fixtures/java-adapters/<case>/}: LoRA adapters built and <b>trained</b> by peft4j on the tiny
 * fixture models, in the layout {@code interop/check_java_adapters.py} reads (PEFT loads them and compares logits).
 *
 * <p>Per case: load {@code fixtures/models/<model>} → {@link Peft#getPeftModel} (+ {@code addAdapter} for further
 * adapters) → activate {@code active} → {@link Trainer} for {@value #STEPS} AdamW steps on one fixed batch (so the
 * saved weights are trained values, not the initialisation; B starts at zero as in PEFT) → {@code savePretrained}
 * into {@code adapter/} → logits of a fixed, left-padded input with the active adapters into
 * {@code expected.safetensors}; {@code case.json} records the losses, the trainable parameters, which saved tensors
 * training left unchanged and how far the logits are from those with the adapters disabled. Deterministic: LoRA init comes from the tuner's fixed seed, the batches from
 * {@code crc32(case name)}, dropout masks from the trainer's seed.
 *
 * <p>Run (see interop/README.md): {@code mvn -B -q -o verify -pl peft-core,peft-lora
 * -Dtest=JavaAdapterFixturesTest#regenerate -Dpeft4j.writeJavaAdapters=true -Dsurefire.failIfNoSpecifiedTests=false},
 * or {@code main([outputRoot [case ...]])} on the test classpath.
 */
public final class JavaAdapterFixtures {
    /** Optimizer steps per case. */
    public static final int STEPS = 5;
    /** AdamW learning rate (constant schedule, no warmup, no weight decay, max_grad_norm 1). */
    public static final double LEARNING_RATE = 2e-2;
    static final int PAD = 0;
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private JavaAdapterFixtures() {
    }

    /** One fixture case: a model, adapters (name → config supplier, in order) and the active set. */
    public static final class Case {
        final String name;
        final String model;
        final String notes;
        final LinkedHashMap<String, Supplier<LoraConfig>> adapters = new LinkedHashMap<>();
        final List<String> active;

        Case(String name, String model, String notes, List<String> active) {
            this.name = name;
            this.model = model;
            this.notes = notes;
            this.active = active;
        }

        Case adapter(String adapterName, Supplier<LoraConfig> config) {
            adapters.put(adapterName, config);
            return this;
        }

        public String name() {
            return name;
        }
    }

    private static LoraConfig.Builder lora() {
        return LoraConfig.builder().r(8).loraAlpha(16).taskType(org.peft4j.peft.config.TaskType.CAUSAL_LM);
    }

    /** All cases, by name. */
    public static Map<String, Case> cases() {
        List<Case> all = List.of(
                new Case("qv", "llama-mha", "q_proj, v_proj; r 8, alpha 16", List.of("default"))
                        .adapter("default", () -> lora().targetModules("q_proj", "v_proj").build()),
                new Case("all-linear", "llama-gqa", "all-linear (14 modules, lm_head excluded); r 4, alpha 8, "
                        + "lora_dropout 0.1 (active while training)", List.of("default"))
                        .adapter("default", () -> lora().r(4).loraAlpha(8).targetModules("all-linear")
                                .loraDropout(0.1).build()),
                new Case("gpt2-c-attn", "gpt2", "GPT-2 Conv1D c_attn and c_fc, fan_in_fan_out true",
                        List.of("default"))
                        .adapter("default", () -> lora().targetModules("c_attn", "c_fc").fanInFanOut(true).build()),
                new Case("bias-all", "qwen2", "q_proj, v_proj; bias 'all' (every bias of the model is trained "
                        + "and saved, also k_proj's)", List.of("default"))
                        .adapter("default", () -> lora().targetModules("q_proj", "v_proj").bias("all").build()),
                new Case("rslora-patterns", "mistral", "q,k,v,o,down; use_rslora, r 8, alpha 16; rank_pattern "
                        + "{q_proj: 4, model.layers.1.self_attn.v_proj: 2}, alpha_pattern {down_proj: 3}",
                        List.of("default"))
                        .adapter("default", () -> lora().targetModules("q_proj", "k_proj", "v_proj", "o_proj",
                                "down_proj").useRslora(true).rankPattern(orderedInts("q_proj", 4,
                                        "model.layers.1.self_attn.v_proj", 2))
                                .alphaPattern(Map.of("down_proj", 3)).build()),
                new Case("modules-to-save", "llama-mha", "q_proj, v_proj; modules_to_save [lm_head] (trained copy "
                        + "saved as base_model.model.lm_head.weight)", List.of("default"))
                        .adapter("default", () -> lora().targetModules("q_proj", "v_proj").modulesToSave("lm_head")
                                .build()),
                new Case("embedding", "llama-mha", "embed_tokens (lora_embedding_A/B) and q_proj; the base embedding "
                        + "is saved too (save_embedding_layers auto)", List.of("default"))
                        .adapter("default", () -> lora().targetModules("embed_tokens", "q_proj").build()),
                new Case("dora", "llama-gqa", "q,v,o; use_dora (lora_magnitude_vector trained)", List.of("default"))
                        .adapter("default", () -> lora().targetModules("q_proj", "v_proj", "o_proj").useDora(true)
                                .build()),
                new Case("two-adapters", "llama-mha", "'default' q,v r 8 alpha 16 in adapter/; 'second' k,o r 4 "
                        + "alpha 8 in adapter/second/; both active while training and in the logits",
                        List.of("default", "second"))
                        .adapter("default", () -> lora().targetModules("q_proj", "v_proj").build())
                        .adapter("second", () -> lora().r(4).loraAlpha(8).targetModules("k_proj", "o_proj").build()),
                new Case("lora-bias", "llama-gqa", "q_proj, o_proj; lora_bias (lora_B.bias trained)",
                        List.of("default"))
                        .adapter("default", () -> lora().targetModules("q_proj", "o_proj").loraBias(true).build()));
        LinkedHashMap<String, Case> out = new LinkedHashMap<>();
        all.forEach(c -> out.put(c.name, c));
        return out;
    }

    private static Map<String, Integer> orderedInts(String k1, int v1, String k2, int v2) {
        LinkedHashMap<String, Integer> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }

    /** Writes every case (or the named ones) under {@code args[0]} (default interop/fixtures/java-adapters). */
    public static void main(String[] args) throws Exception {
        Path root = args.length > 0 ? Paths.get(args[0]) : Fixtures.root().resolve("java-adapters");
        List<String> names = args.length > 1 ? Arrays.asList(args).subList(1, args.length)
                : new ArrayList<>(cases().keySet());
        for (String n : names) {
            Case c = cases().get(n);
            if (c == null) {
                throw new IllegalArgumentException("unknown case " + n + "; known: " + cases().keySet());
            }
            write(c, root);
            System.out.println("wrote " + root.resolve(n));
        }
    }

    /** A deterministic generator per case: seeded with crc32 of the case name. */
    static Random rng(String caseName) {
        CRC32 crc = new CRC32();
        crc.update(caseName.getBytes(StandardCharsets.UTF_8));
        return new Random(crc.getValue());
    }

    /** [2, seq] tokens in [3, vocab); row 1 left-padded with {@code pads} pad tokens. */
    static long[] tokens(Random rnd, int vocab, int seq, int pads) {
        long[] ids = new long[2 * seq];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i >= seq && i < seq + pads ? PAD : 3 + rnd.nextInt(vocab - 3);
        }
        return ids;
    }

    static long[] mask(int seq, int pads) {
        long[] m = new long[2 * seq];
        for (int i = 0; i < m.length; i++) {
            m[i] = i >= seq && i < seq + pads ? 0 : 1;
        }
        return m;
    }

    /** Builds, trains and saves one case into {@code root/<case>/} (the folder is replaced). */
    public static Path write(Case c, Path root) throws IOException {
        Path dir = root.resolve(c.name);
        deleteTree(dir);
        Files.createDirectories(dir);
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(c.model));
        // repo-relative, as the Python LoRA fixtures: the files do not depend on where the repository lives
        base.setNameOrPath("interop/fixtures/models/" + c.model);
        int vocab = base.config().getInt("vocab_size");

        PeftModel pm = null;
        for (Map.Entry<String, Supplier<LoraConfig>> a : c.adapters.entrySet()) {
            if (pm == null) {
                pm = Peft.getPeftModel(base, a.getValue().get(), a.getKey());
            } else {
                pm.addAdapter(a.getKey(), a.getValue().get());
            }
        }
        if (c.active.size() == 1) {
            pm.setAdapter(c.active.get(0));
        } else {
            pm.setAdapters(c.active);
        }
        long[] counts = pm.getNbTrainableParameters();
        Map<String, float[]> init = new LinkedHashMap<>();
        for (String a : c.adapters.keySet()) {
            pm.getPeftModelStateDict(a).forEach((k, t) -> init.put(a + ":" + k, t.toFloatArray()));
        }
        List<String> trainable = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : pm.namedParameters().entrySet()) {
            if (e.getValue().trainable()) {
                trainable.add(e.getKey());
            }
        }

        Random rnd = rng(c.name);
        int trainSeq = 9;
        int trainPads = 2;
        long[] trainIds = tokens(rnd, vocab, trainSeq, trainPads);
        long[] trainMask = mask(trainSeq, trainPads);
        long[] labels = trainIds.clone();
        for (int i = 0; i < labels.length; i++) {
            if (trainMask[i] == 0) {
                labels[i] = -100;
            }
        }
        Batch batch = new Batch(Tensor.of(trainIds, 2, trainSeq), Tensor.of(trainMask, 2, trainSeq),
                Tensor.of(labels, 2, trainSeq));
        Path work = Files.createTempDirectory("peft4j-java-adapters");
        List<Double> losses;
        try {
            TrainingArguments args = TrainingArguments.builder(work).learningRate(LEARNING_RATE).maxSteps(STEPS)
                    .lrSchedulerType("constant").loggingSteps(1000).saveSteps(1000).seed(42).build();
            losses = new Trainer(pm.getBaseModel(), args, OrtRuntime.shared()).showProgress(false)
                    .train(List.of(batch));
        } finally {
            deleteTree(work);
        }

        Path adapterDir = dir.resolve("adapter");
        pm.savePretrained(adapterDir);

        int seq = 7;
        int pads = 2;
        Tensor ids = Tensor.of(tokens(rnd, vocab, seq, pads), 2, seq);
        Tensor mask = Tensor.of(mask(seq, pads), 2, seq);
        Tensor logits = pm.logits(ids, mask);
        double effect;
        try (PeftModel.AdapterDisabled d = pm.disableAdapter()) {
            effect = maxAbsDiffOnTokens(logits, pm.logits(ids, mask), mask);
        }
        Map<String, Tensor> expected = new LinkedHashMap<>();
        expected.put("input_ids", ids);
        expected.put("attention_mask", mask);
        expected.put("logits", logits);
        expected.put("train_input_ids", batch.inputIds());
        expected.put("train_attention_mask", batch.attentionMask());
        expected.put("train_labels", batch.labels());
        SafeTensorsWriter.write(dir.resolve("expected.safetensors"), expected, Map.of("case", c.name));

        // which saved tensors training changed (all adapter tensors must have; a saved base embedding must not)
        JsonObject unchanged = new JsonObject();
        JsonObject savedKeys = new JsonObject();
        for (String a : c.adapters.keySet()) {
            JsonArray same = new JsonArray();
            JsonObject keys = new JsonObject();
            for (Map.Entry<String, Tensor> e : pm.getPeftModelStateDict(a).entrySet()) {
                JsonArray shape = new JsonArray();
                for (long d : e.getValue().shape()) {
                    shape.add(d);
                }
                keys.add(e.getKey(), shape);
                if (Arrays.equals(init.get(a + ":" + e.getKey()), e.getValue().toFloatArray())) {
                    same.add(e.getKey());
                }
            }
            unchanged.add(a, same);
            savedKeys.add(a, keys);
        }

        JsonObject cj = new JsonObject();
        cj.addProperty("model", c.model);
        JsonArray names = new JsonArray();
        c.adapters.keySet().forEach(names::add);
        cj.add("adapter_names", names);
        JsonArray act = new JsonArray();
        c.active.forEach(act::add);
        cj.add("active", act);
        cj.addProperty("notes", c.notes);
        cj.addProperty("written_by", "peft4j " + JavaAdapterFixtures.class.getName());
        JsonObject adapters = new JsonObject();
        for (String a : c.adapters.keySet()) {
            adapters.addProperty(a, "default".equals(a) ? "adapter" : "adapter/" + a);
        }
        cj.add("adapters", adapters);
        cj.addProperty("trainable_params", counts[0]);
        cj.addProperty("all_params", counts[1]);
        JsonArray tr = new JsonArray();
        trainable.forEach(tr::add);
        cj.add("trainable_parameters", tr);
        JsonObject training = new JsonObject();
        training.addProperty("trainer", "org.peft4j.train.Trainer on PeftModel.getBaseModel()");
        training.addProperty("steps", STEPS);
        training.addProperty("learning_rate", LEARNING_RATE);
        training.addProperty("lr_scheduler_type", "constant");
        training.addProperty("optimizer", "AdamW betas (0.9, 0.999), eps 1e-8, weight_decay 0, max_grad_norm 1.0");
        training.addProperty("seed", 42);
        training.addProperty("batch", "train_input_ids / train_attention_mask / train_labels in expected.safetensors "
                + "(labels = input_ids, -100 at pads)");
        JsonArray ls = new JsonArray();
        losses.forEach(ls::add);
        training.add("losses", ls);
        cj.add("training", training);
        JsonObject obs = new JsonObject();
        obs.addProperty("logits_vs_adapters_disabled_max_abs", effect);
        cj.add("observations", obs);
        cj.add("saved_keys", savedKeys);
        cj.add("unchanged_by_training", unchanged);
        JsonObject tensors = new JsonObject();
        expected.forEach((k, t) -> {
            JsonArray spec = new JsonArray();
            spec.add(t.dtype().name());
            JsonArray shape = new JsonArray();
            for (long d : t.shape()) {
                shape.add(d);
            }
            spec.add(shape);
            tensors.add(k, spec);
        });
        cj.add("tensors", tensors);
        Files.writeString(dir.resolve("case.json"), GSON.toJson(cj) + "\n", StandardCharsets.UTF_8);
        return dir;
    }

    /** max |a - b| over the positions where {@code mask} is 1. */
    static double maxAbsDiffOnTokens(Tensor a, Tensor b, Tensor mask) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        long[] m = mask.toLongArray();
        int v = (int) a.dim(2);
        double max = 0;
        for (int p = 0; p < m.length; p++) {
            for (int i = 0; m[p] == 1 && i < v; i++) {
                max = Math.max(max, Math.abs((double) x[p * v + i] - y[p * v + i]));
            }
        }
        return max;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toArray(Path[]::new)) {
                Files.delete(x);
            }
        }
    }
}
