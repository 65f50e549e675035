package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.PeftModel;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.tensor.Tensor;
import org.peft4j.testutil.Fixtures;

/**
 * Java → Python: the adapters peft4j trained and saved ({@code interop/fixtures/java-adapters}, written by
 * {@link JavaAdapterFixtures}) were loaded by Hugging Face PEFT 0.21.2 ({@code interop/check_java_adapters.py}), which
 * recorded its verdict in {@code report.json}. This test holds the report to the committed files: every case
 * folder is in it, every file's sha256 in it equals the committed file's (so the verdict is about exactly these
 * files), every case passed with PEFT's logits within 1e-4 of Java's and no missing or unexpected key. Java reloading
 * its own committed adapters reproduces the committed logits within 1e-5.
 */
class JavaToPythonInteropTest {
    static final double PEFT_TOL = 1e-4;
    static final double SELF_TOL = 1e-5;

    static Path root() {
        return Fixtures.root().resolve("java-adapters");
    }

    static JsonObject report() throws Exception {
        return Fixtures.json(root().resolve("report.json"));
    }

    static Stream<String> cases() throws Exception {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(root())) {
            s.filter(p -> Files.exists(p.resolve("case.json"))).forEach(p -> out.add(p.getFileName().toString()));
        }
        return out.stream().sorted();
    }

    static Map<String, String> sha256Tree(Path folder) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(folder)) {
            for (Path p : s.filter(Files::isRegularFile).toArray(Path[]::new)) {
                byte[] h = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
                out.put(folder.relativize(p).toString().replace('\\', '/'), HexFormat.of().formatHex(h));
            }
        }
        return out;
    }

    @Test
    void reportCoversExactlyTheCaseFoldersAndAllRequiredCases() throws Exception {
        List<String> folders = cases().toList();
        assertThat(report().getAsJsonObject("cases").keySet()).containsExactlyInAnyOrderElementsOf(folders);
        assertThat(folders).containsAll(JavaAdapterFixtures.cases().keySet());
        assertThat(report().get("peft_version").getAsString()).isEqualTo("0.21.2");
        assertThat(report().get("tolerance").getAsDouble()).isLessThanOrEqualTo(PEFT_TOL);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void peftLoadedTheAdapterAndReproducedJavasLogits(String name) throws Exception {
        JsonObject r = report().getAsJsonObject("cases").getAsJsonObject(name);
        assertThat(r).as(name + " not in report.json").isNotNull();
        assertThat(r.get("error").isJsonNull()).as(name + ": " + r.get("error")).isTrue();
        assertThat(r.getAsJsonArray("missing_keys")).as(name).isEmpty();
        assertThat(r.getAsJsonArray("unexpected_keys")).as(name).isEmpty();
        assertThat(r.get("max_abs_diff").getAsDouble()).as(name).isLessThanOrEqualTo(PEFT_TOL);
        assertThat(r.get("passed").getAsBoolean()).as(name).isTrue();
        JsonObject c = Fixtures.json(root().resolve(name).resolve("case.json"));
        assertThat(r.get("model").getAsString()).isEqualTo(c.get("model").getAsString());
        assertThat(r.get("active")).isEqualTo(c.get("active"));
        assertThat(r.get("adapter_names")).isEqualTo(c.get("adapter_names"));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void reportIsAboutTheCommittedFiles(String name) throws Exception {
        JsonObject want = report().getAsJsonObject("cases").getAsJsonObject(name).getAsJsonObject("files_sha256");
        Map<String, String> reported = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : want.entrySet()) {
            reported.put(e.getKey(), e.getValue().getAsString());
        }
        assertThat(sha256Tree(root().resolve(name))).as(name + ": files differ from those PEFT checked; run "
                + "interop/check_java_adapters.py again").isEqualTo(reported);
        assertThat(new TreeSet<>(reported.keySet())).contains("case.json", "expected.safetensors",
                "adapter/adapter_config.json", "adapter/adapter_model.safetensors");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void javaReloadsItsOwnAdapterAndReproducesTheCommittedLogits(String name) throws Exception {
        Path dir = root().resolve(name);
        JsonObject c = Fixtures.json(dir.resolve("case.json"));
        List<String> names = new ArrayList<>();
        c.getAsJsonArray("adapter_names").forEach(e -> names.add(e.getAsString()));
        List<String> active = new ArrayList<>();
        c.getAsJsonArray("active").forEach(e -> active.add(e.getAsString()));
        PreTrainedModel base = AutoModelForCausalLM.fromPretrained(Fixtures.model(c.get("model").getAsString()));
        PeftModel pm = null;
        for (String n : names) {
            Path a = "default".equals(n) ? dir.resolve("adapter") : dir.resolve("adapter").resolve(n);
            if (pm == null) {
                pm = PeftModel.fromPretrained(base, a, n, false);
            } else {
                var res = pm.loadAdapter(a, n, false);
                assertThat(res.missingKeys()).isEmpty();
                assertThat(res.unexpectedKeys()).isEmpty();
            }
        }
        if (active.size() == 1) {
            pm.setAdapter(active.get(0));
        } else {
            pm.setAdapters(active);
        }
        Tensor ids;
        Tensor mask;
        Tensor want;
        try (SafeTensors st = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            ids = st.get("input_ids").copy();
            mask = st.get("attention_mask").copy();
            want = st.get("logits").copy();
        }
        assertThat(PeftAdapterInteropTest.maxDiffOnTokens(pm.logits(ids, mask), want, mask)).as(name)
                .isLessThanOrEqualTo(SELF_TOL);
    }
}
