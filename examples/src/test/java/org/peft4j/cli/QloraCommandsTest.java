package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.qlora.BitsAndBytesConfig;
import org.peft4j.qlora.Linear4bit;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.TensorSource;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/** QLoRA from the command line: {@code finetune}, {@code generate} and {@code merge} with {@code --load-in-4bit}. */
class QloraCommandsTest {
    @TempDir
    static Path shared;
    static Path model;
    static Path data;
    static Path adapter;

    private static final String[] NF4_DQ = {"--load-in-4bit", "--bnb-4bit-quant-type", "nf4",
        "--bnb-4bit-use-double-quant"};

    @BeforeAll
    static void setUp() throws IOException {
        model = CliFixtures.tinyModel(Files.createDirectories(shared.resolve("model")));
        data = CliFixtures.chatData(shared.resolve("train.jsonl"));
        adapter = CliFixtures.randomAdapter(model, shared.resolve("adapter"));
    }

    private static CliFixtures.Run finetune(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("finetune", "--model", model.toString(), "--data", data.toString(),
                "--output-dir", out.toString(), "--per-device-train-batch-size", "2", "--learning-rate", "1e-2",
                "--logging-steps", "1", "--lora-dropout", "0", "--max-steps", "3", "--target-modules",
                "q_proj,v_proj"));
        a.addAll(List.of(extra));
        return CliFixtures.run(a.toArray(new String[0]));
    }

    private static BitsAndBytesConfig nf4() {
        return BitsAndBytesConfig.builder().loadIn4bit(true).bnb4bitQuantType("nf4").bnb4bitUseDoubleQuant(true)
                .build();
    }

    @Test
    void qloraFinetuneTrainsOnTheQuantizedBaseAndCheckpointingChangesNothing(@TempDir Path tmp) throws Exception {
        Path plain = tmp.resolve("float");
        Path q = tmp.resolve("qlora");
        Path qgc = tmp.resolve("qlora-gc");
        CliFixtures.Run rf = finetune(plain);
        CliFixtures.Run rq = finetune(q, NF4_DQ);
        List<String> withGc = new ArrayList<>(List.of(NF4_DQ));
        withGc.addAll(List.of("--gradient-checkpointing", "--optim", "paged_adamw_32bit"));
        CliFixtures.Run rgc = finetune(qgc, withGc.toArray(new String[0]));
        for (CliFixtures.Run r : List.of(rf, rq, rgc)) {
            assertThat(r.exitCode()).as(r.toString()).isZero();
        }
        assertThat(rq.out()).contains("4-bit nf4, double quant, compute float32");

        List<Double> lf = losses(plain);
        List<Double> lq = losses(q);
        assertThat(lq).hasSize(3).allMatch(Double::isFinite);
        // the first step runs before any update: the 4-bit base gives a loss near, but not at, the float one
        assertThat(Math.abs(lq.get(0) - lf.get(0))).isGreaterThan(1e-6).isLessThan(0.1);
        // recomputing layers in the backward pass and paged 32-bit states change no number
        List<Double> lgc = losses(qgc);
        assertThat(lgc).hasSize(3);
        for (int i = 0; i < 3; i++) {
            assertThat(lgc.get(i)).isCloseTo(lq.get(i), org.assertj.core.data.Offset.offset(1e-5));
        }
        assertThat(maxDiff(q.resolve("adapter_model.safetensors"), qgc.resolve("adapter_model.safetensors")))
                .isLessThan(1e-5);

        // the adapter trained on the 4-bit base loads onto a 4-bit base and moves its logits
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(model, nf4());
        assertThat(base.getSubmodule("model.layers.0.self_attn.q_proj")).isInstanceOf(Linear4bit.class);
        Tensor ids = Tensor.of(new long[] {0, 4, 17, 42, 99, 5}, 1, 6);
        Tensor before = base.logits(ids, null);
        Tensor after = PeftModel.fromPretrained(base, q).logits(ids, null);
        assertThat(Fixtures.maxAbsDiff(after.toFloatArray(), before.toFloatArray())).isGreaterThan(1e-4);
    }

    @Test
    void generateOnA4bitBase() {
        CliFixtures.Run r = CliFixtures.run("generate", "--model", model.toString(), "--adapter", adapter.toString(),
                "--prompt", "Who are you?", "--max-new-tokens", "4", "--load-in-4bit");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("(4-bit fp4, compute float32)").contains("before fine-tuning")
                .contains("after fine-tuning");
    }

    @Test
    void mergeIntoTheFloatBaseByDefaultOrRequantizedWith4bit(@TempDir Path tmp) throws Exception {
        Tensor ids = Tensor.of(new long[] {0, 4, 17, 42, 99, 5, 250, 13}, 1, 8);

        Path merged = tmp.resolve("merged");
        CliFixtures.Run r = CliFixtures.run("merge", "--model", model.toString(), "--adapter", adapter.toString(),
                "--output-dir", merged.toString());
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(merged.resolve("config.json")).content().doesNotContain("quantization_config");
        Tensor floatPeft = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(model), adapter)
                .logits(ids, null);
        assertThat(Fixtures.maxAbsDiff(AutoModelForCausalLM.fromPretrained(merged).logits(ids, null).toFloatArray(),
                floatPeft.toFloatArray())).isLessThan(1e-4);

        Path merged4 = tmp.resolve("merged4");
        r = CliFixtures.run(concat(new String[] {"merge", "--model", model.toString(), "--adapter",
            adapter.toString(), "--output-dir", merged4.toString()}, NF4_DQ));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("re-quantized after the merge");
        assertThat(merged4.resolve("config.json")).content().contains("\"quantization_config\"")
                .contains("\"bnb_4bit_quant_type\": \"nf4\"");
        PreTrainedModel reloaded = AutoModelForCausalLM.fromPretrained(merged4);
        assertThat(reloaded.getSubmodule("model.layers.0.self_attn.q_proj")).isInstanceOf(Linear4bit.class);
        // the 4-bit merge equals the 4-bit PEFT model up to the re-quantization's rounding
        PreTrainedModel base4 = AutoModelForCausalLM.fromPretrained(model, nf4());
        Tensor base4Logits = base4.logits(ids, null);
        Tensor peft4 = PeftModel.fromPretrained(base4, adapter).logits(ids, null);
        double moved = Fixtures.maxAbsDiff(peft4.toFloatArray(), base4Logits.toFloatArray());
        double mergeError = Fixtures.maxAbsDiff(reloaded.logits(ids, null).toFloatArray(), peft4.toFloatArray());
        assertThat(moved).isGreaterThan(1e-3);
        assertThat(mergeError).isLessThan(moved);
    }

    @Test
    void quantizationOptionsNeedLoadIn4bitAndAKnownType(@TempDir Path out) {
        CliFixtures.Run r = finetune(out, "--bnb-4bit-quant-type", "nf4");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("--bnb-4bit-* options need --load-in-4bit");
        r = finetune(out, "--load-in-4bit", "--bnb-4bit-quant-type", "int3");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("invalid 4-bit options").contains("int3");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = new String[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static List<Double> losses(Path out) throws IOException {
        List<Double> losses = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("trainer_log.jsonl"))) {
            if (!l.isBlank()) {
                JsonObject o = JsonParser.parseString(l).getAsJsonObject();
                if (o.has("loss")) {
                    losses.add(o.get("loss").getAsDouble());
                }
            }
        }
        return losses;
    }

    private static double maxDiff(Path a, Path b) throws IOException {
        double max = 0;
        try (TensorSource sa = SafeTensors.open(a); TensorSource sb = SafeTensors.open(b)) {
            assertThat(sb.keys()).containsExactlyInAnyOrderElementsOf(sa.keys());
            for (String k : sa.keys()) {
                max = Math.max(max, Fixtures.maxAbsDiff(sa.get(k).toFloatArray(), sb.get(k).toFloatArray()));
            }
        }
        return max;
    }
}
