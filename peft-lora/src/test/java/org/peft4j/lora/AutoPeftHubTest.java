package org.peft4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.Peft4jException;
import org.peft4j.hub.HfHub;
import org.peft4j.hub.HubSettings;
import org.peft4j.peft.AutoPeftModelForCausalLM;
import org.peft4j.tensor.Tensor;

/**
 * {@code AutoPeftModelForCausalLM} with a Hugging Face repo id as {@code base_model_name_or_path} (what PEFT writes
 * for Hub models): the base resolves through the local Hugging Face cache without network (offline settings, a
 * snapshot laid out as huggingface_hub writes it), and the adapter's logits are PEFT's (the ChatGLM fixture of
 * {@link ChatGLMLoraTest}, modeling_chatglm + PEFT 0.12). A repo id missing from the cache is an error naming the
 * adapter's config file and the field.
 */
class AutoPeftHubTest {
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    static Path cacheWithChatGlm(Path cache) throws Exception {
        Path repo = cache.resolve("models--THUDM--tiny-chatglm");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), COMMIT);
        Path snap = Files.createDirectories(repo.resolve("snapshots").resolve(COMMIT));
        try (var files = Files.list(ChatGLMLoraTest.dir().resolve("model"))) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, snap.resolve(f.getFileName().toString()));
            }
        }
        return cache;
    }

    static Path adapterNaming(Path dir, String base) throws Exception {
        return adapterNaming(dir, ChatGLMLoraTest.dir().resolve("lora/adapter"), base);
    }

    /** A copy of the adapter folder {@code src} whose {@code base_model_name_or_path} is {@code base}. */
    static Path adapterNaming(Path dir, Path src, String base) throws Exception {
        Files.createDirectories(dir);
        Files.copy(src.resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
        String cfg = Files.readString(src.resolve("adapter_config.json"));
        Files.writeString(dir.resolve("adapter_config.json"), cfg.replaceFirst(
                "\"base_model_name_or_path\": *(null|\"[^\"]*\")", "\"base_model_name_or_path\": \"" + base + "\""));
        return dir;
    }

    @Test
    void repoIdBaseResolvesThroughTheCacheOffline(@TempDir Path tmp) throws Exception {
        HfHub hub = new HfHub(new HubSettings(cacheWithChatGlm(tmp.resolve("hub")), null, null, true));
        Path adapter = adapterNaming(tmp.resolve("adapter"), "THUDM/tiny-chatglm");
        Map<String, Tensor> want = ChatGLMLoraTest.expected();
        Tensor mask = want.get("attention_mask");
        try (AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(adapter, "default", false, hub)) {
            double d = PeftAdapterInteropTest.maxDiffOnTokens(m.model().logits(want.get("input_ids"), mask),
                    want.get("logits"), mask);
            assertThat(d).isLessThan(ChatGLMLoraTest.TOL);
            assertThat(m.generate("你好")).isNotNull();
        }
        // @revision: the commit itself
        Path pinned = adapterNaming(tmp.resolve("pinned"), "THUDM/tiny-chatglm@" + COMMIT);
        try (AutoPeftModelForCausalLM m = AutoPeftModelForCausalLM.fromPretrained(pinned, "default", false, hub)) {
            assertThat(m.model().logits(want.get("input_ids"), mask).shape())
                    .isEqualTo(want.get("logits").shape());
        }
    }

    @Test
    void aRepoIdMissingFromTheOfflineCacheNamesTheFileAndField(@TempDir Path tmp) throws Exception {
        HfHub hub = new HfHub(new HubSettings(Files.createDirectories(tmp.resolve("empty")), null, null, true));
        Path adapter = adapterNaming(tmp.resolve("adapter"), "THUDM/not-there");
        assertThatThrownBy(() -> AutoPeftModelForCausalLM.fromPretrained(adapter, "default", false, hub))
                .isInstanceOf(Peft4jException.class)
                .hasMessageContaining(adapter.resolve("adapter_config.json").toString())
                .hasMessageContaining("'base_model_name_or_path' is \"THUDM/not-there\"");
    }
}
