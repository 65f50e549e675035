package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Where the command line finds its inputs: the embedded defaults ({@code examples/default/model/},
 * {@code examples/default/data/train.jsonl}, {@code examples/default/data/heldout.jsonl} under the peft4j folder)
 * and checks that the folders and files given on the command line hold what is expected, failing with a
 * {@link CliException} that names the option and the path.
 *
 * <p>The peft4j folder is the system property {@value #HOME_PROPERTY} (set by the {@code peft4j} launcher), else
 * the first folder containing {@code examples/default}, walking up from the working directory.
 */
public final class ModelPaths {
    /** The system property naming the peft4j folder. */
    public static final String HOME_PROPERTY = "peft4j.home";
    /** The embedded defaults, relative to the peft4j folder. */
    public static final String DEFAULT_DIR = "examples/default";
    public static final String DEFAULT_MODEL = DEFAULT_DIR + "/model";
    public static final String DEFAULT_TRAIN_DATA = DEFAULT_DIR + "/data/train.jsonl";
    public static final String DEFAULT_PROMPTS = DEFAULT_DIR + "/data/heldout.jsonl";

    private ModelPaths() {
    }

    /** The peft4j folder, or null when neither the property is set nor a folder above holds examples/default. */
    static Path home() {
        String prop = System.getProperty(HOME_PROPERTY);
        if (prop != null && !prop.isBlank()) {
            return Paths.get(prop).toAbsolutePath().normalize();
        }
        for (Path p = Paths.get("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(DEFAULT_DIR))) {
                return p;
            }
        }
        return null;
    }

    /** {@code given}, or the default {@code relative} path under the peft4j folder when {@code given} is null. */
    static Path orDefault(Path given, String relative, String option) {
        if (given != null) {
            return given;
        }
        Path home = home();
        if (home == null) {
            throw new CliException(option + " not given and the default " + relative + " was not found: no folder "
                    + "above " + Paths.get("").toAbsolutePath() + " contains " + DEFAULT_DIR + " (set -D"
                    + HOME_PROPERTY + "=<peft4j folder> or pass " + option + ")");
        }
        Path p = home.resolve(relative);
        if (!Files.exists(p)) {
            throw new CliException(option + " not given and the default " + relative + " does not exist: " + p
                    + " (pass " + option + ")");
        }
        return p;
    }

    /** The model folder: {@code given}, else the embedded default model. */
    static Path model(Path given) {
        return orDefault(given, DEFAULT_MODEL, "--model");
    }

    /**
     * The base model of {@code adapter} when {@code --model} is not given: the folder named by its
     * adapter_config.json's {@code base_model_name_or_path} (absolute, or relative to the working directory), or the
     * embedded default model when that is what it names (a path ending in {@value #DEFAULT_MODEL} that no longer
     * exists, e.g. written on another machine). With {@code given} (or no adapter), {@link #model(Path)}.
     */
    static Path baseModel(Path given, Path adapter) {
        if (given != null || adapter == null) {
            return model(given);
        }
        Path file = adapter.resolve("adapter_config.json");
        String name;
        try {
            Object v = org.peft4j.peft.config.ConfigJson.parse(
                    Files.readString(file, java.nio.charset.StandardCharsets.UTF_8), file.toString())
                    .value("base_model_name_or_path");
            name = v instanceof String || v instanceof Number || v instanceof Boolean ? String.valueOf(v) : null;
        } catch (java.io.IOException | RuntimeException e) {
            return model(null); // requireAdapter reports the unreadable config
        }
        if (name == null || name.isBlank()) {
            throw new CliException("--model not given and " + file + " has no 'base_model_name_or_path'; pass "
                    + "--model (the base model's folder)");
        }
        Path named = Paths.get(name);
        if (Files.isRegularFile(named.resolve("config.json"))) {
            return named;
        }
        if (named.normalize().toString().replace('\\', '/').endsWith(DEFAULT_MODEL)) {
            return model(null);
        }
        throw new CliException("--model not given and " + file + "'s 'base_model_name_or_path' \"" + name
                + "\" is not a local model folder; pass --model (the base model's folder)");
    }

    /** The training data: {@code given}, else the embedded default data. */
    static Path trainData(Path given) {
        return orDefault(given, DEFAULT_TRAIN_DATA, "--data");
    }

    /** The prompts file: {@code given}, else the embedded held-out prompts. */
    static Path prompts(Path given) {
        return orDefault(given, DEFAULT_PROMPTS, "--prompts-file");
    }

    /** Checks that {@code file} is a readable regular file. */
    static Path requireFile(Path file, String option, String expected) {
        if (Files.isDirectory(file)) {
            throw new CliException(option + " " + file + ": is a folder, expected " + expected);
        }
        if (!Files.isRegularFile(file)) {
            throw new CliException(option + " " + file + ": file not found (expected " + expected + ")");
        }
        return file;
    }

    /**
     * Checks, before any work starts, that files can be written in the output folder {@code dir}: creates it (and
     * its parents) if needed and writes and deletes a probe file in it, so a read-only disk, a missing permission
     * or a path through a file is reported now, not at the first checkpoint.
     */
    static Path requireWritableFolder(Path dir, String option) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new CliException(option + " " + dir + ": is a file, expected a folder");
        }
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".peft4j-write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            throw new CliException(option + " " + dir + ": cannot write in this folder: "
                    + CliCommand.describe(e), e);
        }
        return dir;
    }

    /** Checks that {@code dir} is a folder. */
    static Path requireFolder(Path dir, String option, String expected) {
        if (!Files.exists(dir)) {
            throw new CliException(option + " " + dir + ": folder not found (expected " + expected + ")");
        }
        if (!Files.isDirectory(dir)) {
            throw new CliException(option + " " + dir + ": is a file, expected a folder (" + expected + ")");
        }
        return dir;
    }

    /**
     * Checks a Hugging Face model folder: {@code config.json}, safetensors weights when {@code weights}, and
     * {@code tokenizer.json} when {@code tokenizer}.
     */
    static Path requireModel(Path dir, String option, boolean weights, boolean tokenizer) {
        String expected = "a Hugging Face model folder with config.json" + (weights ? ", *.safetensors" : "")
                + (tokenizer ? ", tokenizer.json and tokenizer_config.json" : "");
        requireFolder(dir, option, expected);
        need(dir, "config.json", option, expected);
        if (weights && !hasSafetensors(dir)) {
            throw new CliException(option + " " + dir + ": no *.safetensors weights in the folder (expected "
                    + expected + ")");
        }
        if (tokenizer && !Files.isRegularFile(dir.resolve("tokenizer.model"))) {
            // a SentencePiece tokenizer.model (ChatGLM) stands in for tokenizer.json
            need(dir, "tokenizer.json", option, expected);
        }
        return dir;
    }

    /** Checks a PEFT adapter folder ({@code adapter_config.json} and {@code adapter_model.safetensors}). */
    static Path requireAdapter(Path dir, String option) {
        String expected = "a PEFT adapter folder with adapter_config.json and adapter_model.safetensors";
        requireFolder(dir, option, expected);
        need(dir, "adapter_config.json", option, expected);
        return dir;
    }

    private static void need(Path dir, String name, String option, String expected) {
        if (!Files.isRegularFile(dir.resolve(name))) {
            throw new CliException(option + " " + dir + ": " + dir.resolve(name) + " not found (expected "
                    + expected + ")");
        }
    }

    private static boolean hasSafetensors(Path dir) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.safetensors")) {
            return s.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }
}
