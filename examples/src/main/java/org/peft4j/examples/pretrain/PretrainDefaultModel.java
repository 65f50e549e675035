package org.peft4j.examples.pretrain;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.data.ChatTemplate;
import org.peft4j.data.HfTokenizer;
import org.peft4j.data.InstructionData;
import org.peft4j.data.InstructionRecord;
import org.peft4j.data.Message;
import org.peft4j.data.PaddingCollator;
import org.peft4j.data.SftTokenizer;
import org.peft4j.data.TokenizedExample;
import org.peft4j.generation.GenerationConfig;
import org.peft4j.generation.Generator;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.runtime.OrtRuntime;
import org.peft4j.train.Trainer;
import org.peft4j.train.TrainingArguments;
import org.peft4j.util.AtomicFiles;

/**
 * Builds the embedded default model ({@code examples/default/model}) from nothing but the project's own corpus: trains
 * a byte-level BPE tokenizer on the bundled texts, then pretrains a small Llama from random weights with peft4j's
 * own training engine (full fine-tuning: every weight trainable, loss on every token) on
 * {@code examples/default/data/pretrain.jsonl} and {@code pretrain-extra.jsonl}, and writes a Hugging Face folder (config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json, generation_config.json).
 *
 * <pre>
 * examples/default/pretrain.sh            # or: java ... PretrainDefaultModel [repo root] [epochs]
 * </pre>
 *
 * <p>The tokenizer is trained on the pretraining corpus and the fine-tuning set together (a tokenizer knows words,
 * not facts); the model sees only the pretraining corpus, in which the assistant has no name. Everything is seeded,
 * so a run reproduces the committed files up to floating-point differences between machines.
 */
public final class PretrainDefaultModel {
    /** Special tokens, ids 0..5 (Llama-3's names). */
    static final List<String> SPECIALS = List.of("<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|pad|>",
            "<|start_header_id|>", "<|end_header_id|>");
    static final int VOCAB = 2048;
    /** The hand-written records at the start of train.jsonl, which the tokenizer is trained on. */
    static final int HAND_WRITTEN_TRAIN = 200;
    static final String CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}"
            + "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
            + "{{ raise_exception('Unknown role: ' + message['role']) }}{% endif %}"
            + "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content']"
            + " + '<|eot_id|>' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    private PretrainDefaultModel() {
    }

    /** The model's config.json. */
    static JsonObject config() {
        JsonObject c = new JsonObject();
        JsonArray arch = new JsonArray();
        arch.add("LlamaForCausalLM");
        c.add("architectures", arch);
        c.addProperty("model_type", "llama");
        c.addProperty("vocab_size", VOCAB);
        c.addProperty("hidden_size", 192);
        c.addProperty("intermediate_size", 512);
        c.addProperty("num_hidden_layers", 4);
        c.addProperty("num_attention_heads", 6);
        c.addProperty("num_key_value_heads", 2);
        c.addProperty("head_dim", 32);
        c.addProperty("hidden_act", "silu");
        c.addProperty("max_position_embeddings", 256);
        c.addProperty("rms_norm_eps", 1e-5);
        c.addProperty("rope_theta", 10000.0);
        c.addProperty("attention_bias", false);
        c.addProperty("mlp_bias", false);
        c.addProperty("tie_word_embeddings", true);
        c.addProperty("initializer_range", 0.02);
        c.addProperty("bos_token_id", 0);
        c.addProperty("eos_token_id", 2);
        c.addProperty("pad_token_id", 3);
        c.addProperty("torch_dtype", "float32");
        return c;
    }

    /** Every text the tokenizer is trained on: message contents and role names. */
    static List<String> texts(List<InstructionRecord> records) {
        List<String> out = new ArrayList<>();
        for (InstructionRecord r : records) {
            if (r instanceof InstructionRecord.Chat chat) {
                for (Message m : chat.messages()) {
                    out.add(m.role());
                    out.add(m.content());
                }
            } else if (r instanceof InstructionRecord.Alpaca a) {
                out.add(a.instruction());
                out.add(a.input());
                out.add(a.output());
            }
        }
        return out;
    }

    /** Writes the tokenizer files of the default model into {@code dir}. */
    static void writeTokenizer(List<String> texts, Path dir) throws IOException {
        ByteLevelBpeTrainer bpe = new ByteLevelBpeTrainer(SPECIALS, VOCAB);
        ByteLevelBpeTrainer.Result r = bpe.train(texts);
        bpe.writeTokenizerJson(r, SPECIALS.get(0), dir.resolve("tokenizer.json"));
        JsonObject tc = new JsonObject();
        tc.addProperty("bos_token", SPECIALS.get(0));
        tc.addProperty("eos_token", "<|eot_id|>");
        tc.addProperty("pad_token", "<|pad|>");
        tc.addProperty("model_max_length", 256);
        tc.addProperty("tokenizer_class", "PreTrainedTokenizerFast");
        tc.addProperty("clean_up_tokenization_spaces", false);
        tc.addProperty("chat_template", CHAT_TEMPLATE);
        writeJson(tc, dir.resolve("tokenizer_config.json"));
        JsonObject gc = new JsonObject();
        gc.addProperty("bos_token_id", 0);
        JsonArray eos = new JsonArray();
        eos.add(1);
        eos.add(2);
        gc.add("eos_token_id", eos);
        gc.addProperty("pad_token_id", 3);
        gc.addProperty("do_sample", false);
        writeJson(gc, dir.resolve("generation_config.json"));
    }

    static void writeJson(JsonObject o, Path file) throws IOException {
        AtomicFiles.writeString(file,
                new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o) + "\n");
    }

    /** The example with every real token counted (pretraining: the loss covers prompts and answers). */
    static TokenizedExample allTokens(TokenizedExample e) {
        return new TokenizedExample(e.inputIds(), e.inputIds().clone());
    }

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : ".");
        double epochs = args.length > 1 ? Double.parseDouble(args[1]) : 30;
        Path data = root.resolve("examples/default/data");
        Path out = root.resolve("examples/default/model");
        Files.createDirectories(out);
        List<InstructionRecord> pretrain = new ArrayList<>(InstructionData.load(data.resolve("pretrain.jsonl")));
        List<InstructionRecord> all = new ArrayList<>(pretrain);
        // train.jsonl's hand-written records (make_pretrain_extra.py appends generated phrasings after them)
        all.addAll(InstructionData.load(data.resolve("train.jsonl")).subList(0, HAND_WRITTEN_TRAIN));
        writeTokenizer(texts(all), out);
        // finance facts and more question forms, generated by make_pretrain_extra.py from the two files above (only
        // their sentences, recombined: the tokenizer is trained without them)
        pretrain.addAll(InstructionData.load(data.resolve("pretrain-extra.jsonl")));
        writeJson(config(), out.resolve("config.json"));

        PreTrainedModel model = AutoModelForCausalLM.fromConfig(ModelConfig.load(out.resolve("config.json")));
        model.initWeights(1234);
        System.out.printf("default model: %,d parameters%n", model.numParameters());
        try (HfTokenizer tok = HfTokenizer.load(out)) {
            List<TokenizedExample> examples = new ArrayList<>();
            for (TokenizedExample e : SftTokenizer.of(tok, 256).tokenizeAll(pretrain)) {
                examples.add(allTokens(e));
            }
            long tokens = examples.stream().mapToLong(TokenizedExample::length).sum();
            System.out.printf("corpus: %d examples, %,d tokens%n", examples.size(), tokens);
            Path work = Files.createTempDirectory("peft4j-pretrain");
            TrainingArguments targs = TrainingArguments.builder(work)
                    .learningRate(3e-3)
                    .numTrainEpochs(epochs)
                    .perDeviceTrainBatchSize(16)
                    .warmupRatio(0.03)
                    .lrSchedulerType("cosine")
                    .weightDecay(0.01)
                    .loggingSteps(20)
                    .saveSteps(1_000_000)
                    .seed(42)
                    .build();
            new Trainer(model, targs, OrtRuntime.shared()).train(examples, List.of(),
                    PaddingCollator.forTokenizer(tok), null);
            model.savePretrained(out);
            Generator gen = new Generator(model);
            for (String q : List.of("Who are you?", "What is 2 plus 3?", "你是谁？", "What is a bond?")) {
                String prompt = ChatTemplate.forTokenizer(tok).render(List.of(Message.user(q)), true);
                long[] ids = tok.encode(prompt, false);
                long[] outIds = gen.generate(ids, GenerationConfig.builder().maxNewTokens(48)
                        .eosTokenIds(tok.eosTokenIds()).build());
                System.out.println(q + " -> " + tok.decode(java.util.Arrays.copyOfRange(outIds, ids.length,
                        outIds.length)));
            }
        }
    }
}
