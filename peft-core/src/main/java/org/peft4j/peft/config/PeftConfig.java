package org.peft4j.peft.config;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.peft4j.internal.PlainJson;
import org.peft4j.internal.StrictGson;
import org.peft4j.util.AtomicFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fields every PEFT method shares ({@code PeftConfig}): {@code peft_type}, {@code task_type},
 * {@code base_model_name_or_path}, {@code revision}, {@code inference_mode}, plus {@code auto_mapping} and
 * {@code peft_version}. Configs are written as {@code adapter_config.json} with PEFT's snake_case keys, sorted, and
 * read back with unknown keys ignored (with PEFT's warning), so that files written by newer PEFT versions load.
 */
public abstract class PeftConfig {
    private static final Logger LOG = LoggerFactory.getLogger(PeftConfig.class);
    /** The file name of a saved config. */
    public static final String CONFIG_NAME = "adapter_config.json";
    /** The version written into {@code peft_version}. */
    public static final String PEFT4J_VERSION = "peft4j-0.1.0";

    private final PeftType peftType;
    protected TaskType taskType;
    protected String baseModelNameOrPath;
    protected String revision;
    protected boolean inferenceMode;
    protected String peftVersion;
    private JsonObject autoMapping;

    protected PeftConfig(PeftType peftType) {
        this.peftType = peftType;
    }

    /**
     * PEFT's {@code peft_type}.
     *
     * @return the method
     */
    public PeftType peftType() {
        return peftType;
    }

    /** The task type, or null. */
    public TaskType taskType() {
        return taskType;
    }

    /** {@code base_model_name_or_path}, or null. */
    public String baseModelNameOrPath() {
        return baseModelNameOrPath;
    }

    /**
     * Sets {@code base_model_name_or_path}.
     *
     * @param v the base model's id or folder, or null
     */
    public void setBaseModelNameOrPath(String v) {
        this.baseModelNameOrPath = v;
    }

    /**
     * {@code revision}: the base model's revision, or null.
     *
     * @return the revision
     */
    public String revision() {
        return revision;
    }

    /**
     * {@code inference_mode} (PEFT's default false; true in saved adapters): the adapter is loaded frozen.
     *
     * @return the flag
     */
    public boolean inferenceMode() {
        return inferenceMode;
    }

    /**
     * Sets {@code inference_mode}.
     *
     * @param v true to load the adapter frozen
     */
    public void setInferenceMode(boolean v) {
        this.inferenceMode = v;
    }

    /**
     * {@code auto_mapping} ({@code base_model_class}, {@code parent_library}), or null.
     *
     * @return a copy of the object as plain Java values (strings, numbers, booleans, lists, maps), in file order
     */
    public Map<String, Object> autoMapping() {
        return PlainJson.toPlainMap(autoMapping);
    }

    /**
     * Sets {@code auto_mapping}, which PEFT writes for adapters saved without a {@code task_type}.
     *
     * @param v the object as plain Java values (copied), or null
     */
    public void setAutoMapping(Map<String, ?> v) {
        this.autoMapping = v == null ? null : PlainJson.toTree(v).getAsJsonObject();
    }

    /** {@code peft_version} as read from a file, or null for a config built in Java. */
    public String peftVersion() {
        return peftVersion;
    }

    /** Whether this is a prompt-learning method (prefix, prompt, P-tuning). */
    public boolean isPromptLearning() {
        return peftType.isPromptLearning();
    }

    /** A deep copy. */
    public abstract PeftConfig copy();

    /** Copies the fields every method shares into {@code c} (for {@link #copy()}). */
    protected void copyCommonTo(PeftConfig c) {
        c.taskType = taskType;
        c.baseModelNameOrPath = baseModelNameOrPath;
        c.revision = revision;
        c.inferenceMode = inferenceMode;
        c.peftVersion = peftVersion;
        c.autoMapping = autoMapping == null ? null : autoMapping.deepCopy();
    }

    // ------------------------------------------------------------------ JSON

    /** The method's own fields (snake_case key to value: String, Number, Boolean, List, Map, enum or null). */
    protected abstract Map<String, Object> methodFields();

    /**
     * All fields, as written to {@code adapter_config.json} (PEFT's {@code to_dict()}): sorted keys, plain Java values
     * (strings, numbers, booleans, lists, maps, nulls; enums as their names).
     *
     * @return a fresh map
     */
    public Map<String, Object> toDict() {
        return PlainJson.toPlainMap(toTree());
    }

    /** All fields as the JSON object written to {@code adapter_config.json} (sorted keys). */
    JsonObject toTree() {
        Map<String, Object> all = new TreeMap<>();
        all.put("peft_type", peftType.name());
        all.put("task_type", taskType);
        all.put("base_model_name_or_path", baseModelNameOrPath);
        all.put("revision", revision);
        all.put("inference_mode", inferenceMode);
        all.put("auto_mapping", autoMapping);
        all.put("peft_version", peftVersion == null ? PEFT4J_VERSION : peftVersion);
        all.putAll(methodFields());
        JsonObject o = new JsonObject();
        for (Map.Entry<String, Object> e : all.entrySet()) {
            o.add(e.getKey(), PlainJson.toTree(e.getValue()));
        }
        return o;
    }

    /** The JSON text, indented by two spaces with sorted keys (as PEFT writes it). */
    public String toJson() {
        return new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create()
                .toJson(toTree());
    }

    /** Reads the shared fields; subclasses call this from their parser. */
    protected void readCommon(ConfigJson j) {
        j.value("peft_type");
        String t = j.string("task_type", null);
        try {
            this.taskType = t == null ? null : TaskType.of(t);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(j.source() + ": field 'task_type': " + e.getMessage(), e);
        }
        this.baseModelNameOrPath = j.string("base_model_name_or_path", null);
        this.revision = j.string("revision", null);
        this.inferenceMode = j.bool("inference_mode", false);
        this.peftVersion = j.string("peft_version", null);
        ConfigJson am = j.object("auto_mapping", "an object or null");
        this.autoMapping = am == null ? null : am.tree().deepCopy();
        if (j.has("runtime_config")) {
            j.value("runtime_config");
            LOG.warn("{}: the 'runtime_config' key is ignored (runtime settings are never loaded from a file)",
                    j.source());
        }
    }

    /** Logs PEFT's warning for keys this version does not know, which are ignored. */
    protected static void warnUnknown(ConfigJson j, Class<?> cls) {
        Set<String> unknown = j.unread();
        if (!unknown.isEmpty()) {
            LOG.warn("Unexpected keyword arguments {} for class {}, these are ignored. This probably means that you're "
                    + "loading a configuration file that was saved using a higher version of the library and additional "
                    + "parameters have been introduced since. It is highly recommended to upgrade the PEFT version "
                    + "before continuing (e.g. by running `pip install -U peft`). ({})", unknown, cls.getSimpleName(),
                    j.source());
        }
    }

    /** Writes {@code adapter_config.json} into {@code dir} atomically. */
    public void savePretrained(Path dir) {
        try {
            Files.createDirectories(dir);
            AtomicFiles.writeString(dir.resolve(CONFIG_NAME), toJson() + "\n");
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("write", dir, e);
        }
    }

    /**
     * Reads the JSON object of {@code adapter_config.json} from a directory (or the file itself), without building a
     * config: {@code PeftConfigs.fromPretrained} builds the config of its {@code peft_type}.
     *
     * @return the object, and the file it came from as {@link ConfigJson#source()}
     * @throws org.peft4j.FileAccessException naming the file if it is missing or is not exactly one strict JSON object (comments, NaN,
     *     trailing text and duplicate keys are refused)
     */
    public static ConfigJson readJson(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve(CONFIG_NAME) : dirOrFile;
        // completes a save_pretrained interrupted after its commit: of this folder, or of the folder above for an
        // adapter saved in a subfolder
        Path folder = file.toAbsolutePath().getParent();
        if (folder != null) {
            org.peft4j.util.FolderSave.recover(folder);
            if (folder.getParent() != null) {
                org.peft4j.util.FolderSave.recover(folder.getParent());
            }
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw org.peft4j.FileAccessException.of("read", file, new NoSuchFileException(file.toString(), null,
                    "no " + CONFIG_NAME + ": expected a folder written by save_pretrained"));
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
        return new ConfigJson(StrictGson.parseObject(text, file.toString()), file.toString());
    }

    /**
     * The method named by a config object's {@code peft_type} (reading it marks nothing read).
     *
     * @param j the config object, naming its source
     * @return the method
     * @throws IllegalArgumentException naming the source, with PEFT's message if it is missing, or naming the
     *     field if it is not a string or is unknown
     */
    public static PeftType peftTypeOf(ConfigJson j) {
        String source = j.source();
        JsonElement t = j.element("peft_type");
        if (t == null) {
            throw new IllegalArgumentException(source + ": The config that is trying to be loaded is missing "
                    + "required keys: {'peft_type'}.");
        }
        if (!t.isJsonPrimitive() || !t.getAsJsonPrimitive().isString()) {
            throw j.error("peft_type", "a string");
        }
        try {
            return PeftType.of(t.getAsString());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": field 'peft_type': " + e.getMessage(), e);
        }
    }

    /** Shallow map helper for subclasses. */
    protected static Map<String, Object> fields() {
        return new LinkedHashMap<>();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + toTree();
    }
}
