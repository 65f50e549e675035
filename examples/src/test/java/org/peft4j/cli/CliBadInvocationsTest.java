package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16 section 3: a table of bad invocations (missing and corrupt files, unwritable output folders, numbers out
 * of range). Each must fail with exit 1 (or 2 for bad usage) and a one-line message naming the file and, where one
 * is at fault, the field or option, without a stack trace; an unwritable output folder is found before training.
 */
class CliBadInvocationsTest {
    @TempDir
    static Path tmp;
    static Path model;
    static Path adapter;
    static Path data;

    /** One bad invocation: what it is, its arguments, the exit code and the texts its message must contain. */
    record Case(String what, List<String> args, int exit, List<String> mustName) {
    }

    @BeforeAll
    static void fixtures() throws Exception {
        model = CliFixtures.tinyModel(Files.createDirectories(tmp.resolve("model")));
        adapter = CliFixtures.randomAdapter(model, tmp.resolve("adapter"));
        data = CliFixtures.chatData(tmp.resolve("train.jsonl"));
    }

    /** A copy of the tiny model whose file {@code name} holds {@code text}. */
    static Path modelWith(String name, String text) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("m-" + Integer.toHexString((name + text).hashCode())));
        try (var s = Files.list(model)) {
            for (Path f : (Iterable<Path>) s::iterator) {
                Files.copy(f, dir.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Files.writeString(dir.resolve(name), text);
        return dir;
    }

    /** A copy of the adapter whose file {@code name} holds {@code bytes}. */
    static Path adapterWith(String name, byte[] bytes) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("a-" + name + "-" + bytes.length));
        for (String f : new String[] {"adapter_config.json", "adapter_model.safetensors"}) {
            Files.copy(adapter.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Files.write(dir.resolve(name), bytes);
        return dir;
    }

    static Case finetune(String what, Path m, Path d, Path out, int exit, List<String> mustName, String... more) {
        List<String> args = new ArrayList<>(List.of("finetune", "--model", m.toString(), "--data", d.toString(),
                "--output-dir", out.toString(), "--max-steps", "1", "--target-modules", "q_proj"));
        args.addAll(List.of(more));
        return new Case(what, args, exit, mustName);
    }

    static Case generate(String what, Path m, Path a, int exit, List<String> mustName, String... more) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", m.toString(), "--prompt", "hi",
                "--max-new-tokens", "2"));
        if (a != null) {
            args.addAll(List.of("--adapter", a.toString()));
        }
        args.addAll(List.of(more));
        return new Case(what, args, exit, mustName);
    }

    @Test
    void everyBadInvocationNamesTheFileOrOptionWithoutAStackTrace() throws Exception {
        Path out = tmp.resolve("out");
        Path missing = tmp.resolve("no-such-folder");
        Path aFile = Files.writeString(tmp.resolve("plain-file"), "x");
        String config = Files.readString(model.resolve("config.json"));
        byte[] adapterConfig = Files.readAllBytes(adapter.resolve("adapter_config.json"));
        Function<String, byte[]> utf8 = s -> s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        List<Case> cases = List.of(
            finetune("missing model folder", missing, data, out, 1, List.of("--model", missing.toString())),
            generate("missing model folder", missing, null, 1, List.of("--model", missing.toString())),
            new Case("missing model folder", List.of("merge", "--model", missing.toString(), "--adapter",
                    adapter.toString(), "--output-dir", out.toString()), 1, List.of(missing.toString())),
            new Case("missing model folder", List.of("inspect", "--model", missing.toString()), 1,
                    List.of(missing.toString())),
            generate("truncated config.json", modelWith("config.json", config.substring(0, config.length() / 2)),
                    null, 1, List.of("config.json")),
            generate("config.json: layers 1e400", modelWith("config.json",
                    config.replaceFirst("\"num_hidden_layers\": *2", "\"num_hidden_layers\": 1e400")), null, 1,
                    List.of("config.json", "num_hidden_layers")),
            new Case("config.json not an object", List.of("inspect", "--model",
                    modelWith("config.json", "[]").toString()), 1, List.of("config.json")),
            generate("corrupt tokenizer_config.json", modelWith("tokenizer_config.json", "{\"eos_token\": 7}"),
                    null, 1, List.of("tokenizer_config.json", "eos_token")),
            finetune("truncated tokenizer.json", modelWith("tokenizer.json", "{\"model\": "), data, out, 1,
                    List.of("tokenizer.json")),
            generate("truncated adapter_config.json", model, adapterWith("adapter_config.json",
                    java.util.Arrays.copyOf(adapterConfig, adapterConfig.length / 2)), 1,
                    List.of("adapter_config.json")),
            generate("adapter_config.json: r 4294967296", model, adapterWith("adapter_config.json",
                    utf8.apply(new String(adapterConfig, java.nio.charset.StandardCharsets.UTF_8)
                            .replaceFirst("\"r\": *4", "\"r\": 4294967296"))), 1,
                    List.of("adapter_config.json", "r")),
            generate("garbage adapter_model.safetensors", model, adapterWith("adapter_model.safetensors",
                    utf8.apply("not a safetensors file at all")), 1, List.of("adapter_model.safetensors")),
            new Case("merge of a garbage adapter", List.of("merge", "--model", model.toString(), "--adapter",
                    adapterWith("adapter_model.safetensors", new byte[7]).toString(), "--output-dir",
                    tmp.resolve("merged").toString()), 1, List.of("adapter_model.safetensors")),
            finetune("data file is a folder", model, tmp, out, 1, List.of("--data", tmp.toString())),
            finetune("data file with a broken line", model, Files.writeString(tmp.resolve("broken.jsonl"),
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n{\"messages\": [\n"), out, 1,
                    List.of("broken.jsonl", ":2")),
            finetune("data file that is not UTF-8", model, Files.write(tmp.resolve("latin1.jsonl"),
                    new byte[] {'{', '"', (byte) 0xE9, '"', ':', '1', '}', '\n'}), out, 1,
                    List.of("latin1.jsonl")),
            finetune("output folder under a file", model, data, aFile.resolve("out"), 1,
                    List.of("--output-dir", aFile.resolve("out").toString())),
            finetune("output folder is a file", model, data, aFile, 1, List.of("--output-dir", aFile.toString())),
            new Case("merge output folder under a file", List.of("merge", "--model", model.toString(),
                    "--adapter", adapter.toString(), "--output-dir", aFile.resolve("m").toString()), 1,
                    List.of("--output-dir", aFile.resolve("m").toString())),
            finetune("learning rate 1e400", model, data, out, 2, List.of("--learning-rate", "1e400"),
                    "--learning-rate", "1e400"),
            finetune("learning rate NaN", model, data, out, 2, List.of("--learning-rate", "NaN"),
                    "--learning-rate", "NaN"),
            finetune("r 4294967296", model, data, out, 2, List.of("--r", "4294967296"), "--r", "4294967296"),
            finetune("max length 0", model, data, out, 1, List.of("--max-length"), "--max-length", "0"),
            generate("max new tokens 1e10", model, null, 2, List.of("--max-new-tokens"),
                    "--max-new-tokens", "10000000000"),
            generate("temperature Infinity", model, null, 2, List.of("--temperature", "Infinity"),
                    "--temperature", "Infinity", "--do-sample"));
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            CliFixtures.Run r = CliFixtures.run(c.args().toArray(String[]::new));
            String err = r.err();
            String line = err.lines().findFirst().orElse("");
            if (r.exitCode() != c.exit()) {
                failures.add(c.what() + ": exit " + r.exitCode() + " (expected " + c.exit() + "): " + err);
            } else if (err.contains("\tat ") || err.contains("Exception in thread")) {
                failures.add(c.what() + ": stack trace: " + err);
            } else if (c.exit() == 1 && err.lines().count() != 1) {
                failures.add(c.what() + ": not one line: " + err);
            } else {
                for (String name : c.mustName()) {
                    if (!line.contains(name)) {
                        failures.add(c.what() + ": message does not name " + name + ": " + line);
                    }
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void anUnwritableOutputFolderIsFoundBeforeTraining() throws Exception {
        Path out = tmp.resolve("read-only");
        Files.createDirectories(out);
        out.toFile().setWritable(false, false);
        try {
            org.junit.jupiter.api.Assumptions.assumeFalse(Files.isWritable(out), "running as root: permissions "
                    + "do not stop writes (the under-a-file rows of the table cover the check)");
            CliFixtures.Run r = CliFixtures.run("finetune", "--model", model.toString(), "--data", data.toString(),
                    "--output-dir", out.toString(), "--max-steps", "1");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).contains("--output-dir " + out + ": cannot write in this folder");
            assertThat(r.out()).doesNotContain("trainable params");
        } finally {
            out.toFile().setWritable(true, false);
        }
    }
}
