package org.peft4j.lora;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.PeftModel;
import org.peft4j.peft.tuners.BaseTunerLayer;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Shared pieces of the port of PEFT's common test battery ({@code tests/testing_common.py}, see
 * {@code peft.md} section 10): the tiny fixture models, PEFT's LoRA test kwargs ({@code r=8, lora_alpha=32,
 * lora_dropout=0.05, target_modules=None}) with {@code init_lora_weights=False} so that adapters are not no-ops,
 * inputs, tolerances and a capture of logged warnings.
 */
final class Battery {
    /** The decoder models the battery runs over (llama: q_proj/v_proj Linear; gpt2: c_attn Conv1D). */
    static final String[] MODELS = {"llama-mha", "gpt2"};

    private Battery() {
    }

    /** Token ids [2, 7], all below every fixture's vocabulary size. */
    static Tensor ids() {
        return Tensor.of(new long[] {1, 5, 9, 17, 33, 65, 120, 3, 4, 7, 100, 20, 25, 8}, 2, 7);
    }

    static PreTrainedModel model(String name) throws Exception {
        return AutoModelForCausalLM.fromPretrained(Fixtures.model(name));
    }

    /** PEFT's LoRA test config with {@code init_lora_weights=False}: the model type's default targets. */
    static LoraConfig.Builder config() {
        return LoraConfig.builder().r(8).loraAlpha(32).loraDropout(0.05).initLoraWeights(false);
    }

    /** A fresh fixture model wrapped with adapter {@code name} = {@link #config()}. */
    static PeftModel peft(String model, String name) throws Exception {
        return Peft.getPeftModel(model(model), config().build(), name);
    }

    static PeftModel peft(String model) throws Exception {
        return peft(model, "default");
    }

    static Tensor logits(PeftModel pm) {
        return pm.logits(ids(), null);
    }

    static Tensor logits(PreTrainedModel m) {
        return m.logits(ids(), null);
    }

    static double diff(Tensor a, Tensor b) {
        return Fixtures.maxAbsDiff(a.toFloatArray(), b.toFloatArray());
    }

    /** Whether every entry is finite. */
    static boolean finite(Tensor t) {
        for (float f : t.toFloatArray()) {
            if (!Float.isFinite(f)) {
                return false;
            }
        }
        return true;
    }

    static double maxAbs(Tensor t) {
        double m = 0;
        for (float f : t.toFloatArray()) {
            m = Math.max(m, Math.abs(f));
        }
        return m;
    }

    /** The LoRA layers of a PEFT model, by dotted name. */
    static Map<String, LoraLayer> loraLayers(PeftModel pm) {
        Map<String, LoraLayer> out = new LinkedHashMap<>();
        for (Map.Entry<String, BaseTunerLayer> e : pm.tuner().tunerLayers().entrySet()) {
            out.put(e.getKey(), (LoraLayer) e.getValue());
        }
        return out;
    }

    /** Copies of all state-dict tensors (the model may be mutated afterwards). */
    static Map<String, Tensor> snapshot(Map<String, Tensor> sd) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        sd.forEach((k, v) -> out.put(k, v.copy()));
        return out;
    }

    /**
     * Runs {@code body} and returns what it logged: slf4j-simple (the test binding) writes to the
     * <em>current</em> {@code System.err} on every call, so swapping the stream captures the warnings.
     */
    static <T> Logged<T> logged(Callable<T> body) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        T value;
        try {
            value = body.call();
        } finally {
            System.setErr(old);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        old.print(text);
        return new Logged<>(value, text);
    }

    static String logs(ThrowingRunnable body) throws Exception {
        return logged(() -> {
            body.run();
            return null;
        }).text;
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    static final class Logged<T> {
        final T value;
        final String text;

        Logged(T value, String text) {
            this.value = value;
            this.text = text;
        }
    }

    /** For symmetry with {@link Consumer}-style helpers. */
    static void each(String[] names, Consumer<String> c) {
        for (String n : names) {
            c.accept(n);
        }
    }
}
