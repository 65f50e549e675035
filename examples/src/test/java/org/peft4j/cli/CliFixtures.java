package org.peft4j.cli;


import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.data.HfTokenizer;
import org.peft4j.lora.LoraConfig;
import org.peft4j.models.ModelConfig;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.models.auto.AutoModelForCausalLM;
import org.peft4j.peft.Peft;
import org.peft4j.peft.config.TaskType;
import org.peft4j.testutil.Fixtures;
import picocli.CommandLine;

/** A tiny Llama with the fixture tokenizer, chat data, and a way to run the command line and capture its output. */
final class CliFixtures {
    private CliFixtures() {
    }

    /** What a command line run printed and returned. */
    record Run(int exitCode, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- out ---\n" + out + "\n--- err ---\n" + err;
        }
    }

    /** Runs {@code peft4j args...} as {@code Peft4jCli.commandLine().execute(args)} (what main runs). */
    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Peft4jCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * A randomly initialised Llama (2 layers, hidden 32) whose vocabulary matches the tokenizer fixture
     * ({@code interop/fixtures/tokenizer}, Llama-3 style chat template), saved with its tokenizer files in
     * {@code dir}.
     */
    static Path tinyModel(Path dir) throws IOException {
        Path tokDir = Fixtures.root().resolve("tokenizer");
        long vocab;
        try (HfTokenizer tok = HfTokenizer.load(tokDir)) {
            vocab = tok.vocabSize();
        }
        ModelConfig cfg = ModelConfig.parse("{\"model_type\": \"llama\", \"vocab_size\": " + vocab
                + ", \"hidden_size\": 32, \"intermediate_size\": 64, \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 256,"
                + " \"bos_token_id\": 0, \"eos_token_id\": 2, \"tie_word_embeddings\": false}");
        PreTrainedModel m = AutoModelForCausalLM.fromConfig(cfg);
        m.initWeights(0, 0.1);
        m.savePretrained(dir);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(tokDir.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    /** A LoRA adapter on q_proj, v_proj with random A and B (init_lora_weights=false), so it changes the logits. */
    static Path randomAdapter(Path model, Path dir) throws IOException {
        LoraConfig cfg = LoraConfig.builder().taskType(TaskType.CAUSAL_LM).r(4).loraAlpha(8)
                .targetModules("q_proj", "v_proj").initLoraWeights(false).build();
        Peft.getPeftModel(AutoModelForCausalLM.fromPretrained(model), cfg).savePretrained(dir);
        return dir;
    }

    /** Six short chat records (JSONL). */
    static Path chatData(Path file) throws IOException {
        String[][] qa = {
            {"Who are you?", "I am peft4j."},
            {"Say hello", "hello world"},
            {"What is 2 + 3?", "5"},
            {"Name a color", "blue"},
            {"Capital of France?", "Paris"},
            {"Opposite of up?", "down"},
        };
        StringBuilder sb = new StringBuilder();
        for (String[] p : qa) {
            sb.append("{\"messages\": [{\"role\": \"user\", \"content\": \"").append(p[0])
                    .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(p[1]).append("\"}]}\n");
        }
        Files.writeString(file, sb.toString());
        return file;
    }
}
