package org.peft4j.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Model ids from the Hugging Face Hub, resolved through the local Hugging Face cache exactly as huggingface_hub lays it
 * out ({@code file_download.py}): {@code {cache}/models--{org}--{name}/refs/{revision}} holds the commit hash,
 * {@code snapshots/{commit}/{file}} are symlinks into {@code blobs/{etag}}, and {@code .no_exist/{commit}/{file}}
 * marks a file the Hub said does not exist. A file already in the cache resolves without any network access; a
 * missing one is downloaded from {@code {endpoint}/{repo_id}/resolve/{revision}/{file}} unless offline
 * ({@code HF_HUB_OFFLINE=1} / {@code TRANSFORMERS_OFFLINE=1}), with resume and atomic placement.
 *
 * <p>Unlike {@code hf_hub_download}, a cached file is not re-validated against the Hub (no HEAD request when the
 * revision's ref is already in the cache); delete {@code refs/{revision}} to pick up a newer commit.
 */
public final class HfHub {

    /** The default revision, as huggingface_hub's {@code DEFAULT_REVISION}. */
    public static final String DEFAULT_REVISION = "main";

    /** The tokenizer files transformers' tokenizers read, fetched when the repo has them. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
            "chat_template.jinja");

    private static final Pattern COMMIT_HASH = Pattern.compile("^[0-9a-f]{40}$");
    private static final Pattern REPO_ID = Pattern.compile("^[\\w\\-.]{1,96}(/[\\w\\-.]{1,96})?$");

    private final HubSettings settings;
    private final HubDownloader downloader;

    /** A hub with the settings of this process's environment. */
    public HfHub() {
        this(HubSettings.fromEnvironment());
    }

    /** A hub with explicit settings (cache folder, endpoint, token, offline). */
    public HfHub(HubSettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.downloader = new HubDownloader(settings);
    }

    /** The settings in use. */
    public HubSettings settings() {
        return settings;
    }

    /**
     * The cache folder name of a model repo, as huggingface_hub's {@code repo_folder_name}: {@code models--} then the
     * repo id with {@code /} replaced by {@code --}.
     */
    public static String repoFolderName(String repoId) {
        return "models--" + validateRepoId(repoId).replace("/", "--");
    }

    /** Whether {@code revision} is a full 40-hex commit hash (used as a snapshot folder directly). */
    public static boolean isCommitHash(String revision) {
        return revision != null && COMMIT_HASH.matcher(revision).matches();
    }

    /**
     * A file's path in the cache if it is there, as huggingface_hub's {@code try_to_load_from_cache}: the revision is
     * a commit hash or read from {@code refs/{revision}}; empty when the repo, ref or file is not cached (including
     * files marked in {@code .no_exist}: see {@link #isCachedNonExistent}).
     */
    public Optional<Path> tryToLoadFromCache(String repoId, String filename, String revision) {
        Optional<String> commit = cachedCommit(repoId, revision);
        if (commit.isEmpty()) {
            return Optional.empty();
        }
        Path file = repoFolder(repoId).resolve("snapshots").resolve(commit.get()).resolve(filename);
        return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
    }

    /** Whether the cache records that {@code filename} does not exist at {@code revision} ({@code .no_exist}). */
    public boolean isCachedNonExistent(String repoId, String filename, String revision) {
        return cachedCommit(repoId, revision)
                .map(c -> Files.exists(repoFolder(repoId).resolve(".no_exist").resolve(c).resolve(filename)))
                .orElse(false);
    }

    /**
     * The local path of one file of a model repo, as {@code hf_hub_download}: from the cache when present, else
     * downloaded (unless offline) into {@code blobs/}, linked from {@code snapshots/{commit}/} and with
     * {@code refs/{revision}} written.
     *
     * @param revision a branch, tag or commit hash; null means {@code "main"}
     * @throws HubException if offline and not cached, or the Hub answers 401/403/404, or the transfer fails
     */
    public Path download(String repoId, String filename, String revision) {
        String rev = revision == null ? DEFAULT_REVISION : revision;
        validateRepoId(repoId);
        Optional<Path> cached = tryToLoadFromCache(repoId, filename, rev);
        if (cached.isPresent()) {
            return cached.get();
        }
        if (settings.offline()) {
            throw new HubException("Cannot find the requested file '" + filename + "' of repo '" + repoId
                    + "' (revision '" + rev + "') in the local cache " + settings.hubCache()
                    + " and outgoing traffic has been disabled (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE). To enable"
                    + " downloads, unset HF_HUB_OFFLINE.");
        }
        return downloader.download(repoFolder(repoId), repoId, filename, rev);
    }

    /**
     * Like {@link #download} for a file a repo may lack: empty when the Hub answers 404 for it (or, offline, when it
     * is not cached).
     */
    public Optional<Path> downloadIfExists(String repoId, String filename, String revision) {
        String rev = revision == null ? DEFAULT_REVISION : revision;
        if (isCachedNonExistent(repoId, filename, rev)) {
            return Optional.empty();
        }
        Optional<Path> cached = tryToLoadFromCache(repoId, filename, rev);
        if (cached.isPresent() || settings.offline()) {
            return cached;
        }
        try {
            return Optional.of(downloader.download(repoFolder(repoId), repoId, filename, rev));
        } catch (HubDownloader.EntryNotFound e) {
            return Optional.empty();
        }
    }

    /**
     * The snapshot folder of a causal-LM repo with what transformers reads to load it: {@code config.json}, the
     * {@code generation_config.json} and tokenizer files the repo has, and {@code model.safetensors} or
     * {@code model.safetensors.index.json} with its shards.
     *
     * @throws HubException if config.json or the weights cannot be resolved
     */
    public Path snapshotForModel(String repoId, String revision) {
        Path config = download(repoId, "config.json", revision);
        downloadIfExists(repoId, "generation_config.json", revision);
        for (String f : TOKENIZER_FILES) {
            downloadIfExists(repoId, f, revision);
        }
        if (downloadIfExists(repoId, "model.safetensors", revision).isEmpty()) {
            Optional<Path> index = downloadIfExists(repoId, "model.safetensors.index.json", revision);
            if (index.isEmpty()) {
                throw new HubException("Repo '" + repoId + "' has neither model.safetensors nor "
                        + "model.safetensors.index.json (peft4j reads safetensors weights only).");
            }
            for (String shard : shardNames(index.get())) {
                download(repoId, shard, revision);
            }
        }
        return config.getParent();
    }

    /** The snapshot folder of a PEFT adapter repo: {@code adapter_config.json} and {@code adapter_model.safetensors}. */
    public Path snapshotForAdapter(String repoId, String revision) {
        Path config = download(repoId, "adapter_config.json", revision);
        download(repoId, "adapter_model.safetensors", revision);
        return config.getParent();
    }

    /** The snapshot folder holding a repo's tokenizer files (those it has) and its config.json. */
    public Path snapshotForTokenizer(String repoId, String revision) {
        Path config = download(repoId, "config.json", revision);
        for (String f : TOKENIZER_FILES) {
            downloadIfExists(repoId, f, revision);
        }
        return config.getParent();
    }

    /**
     * transformers' rule for {@code from_pretrained(str)}: an existing local folder wins; otherwise the string is a
     * repo id (optionally {@code id@revision}) resolved with {@link #snapshotForModel} using the environment settings.
     */
    public static Path resolveModel(String idOrPath) {
        return resolve(idOrPath, Kind.MODEL);
    }

    /** {@link #resolveModel} for a PEFT adapter ({@link #snapshotForAdapter}). */
    public static Path resolveAdapter(String idOrPath) {
        return resolve(idOrPath, Kind.ADAPTER);
    }

    /** {@link #resolveModel} for a tokenizer ({@link #snapshotForTokenizer}). */
    public static Path resolveTokenizer(String idOrPath) {
        return resolve(idOrPath, Kind.TOKENIZER);
    }

    enum Kind { MODEL, ADAPTER, TOKENIZER }

    private static Path resolve(String idOrPath, Kind kind) {
        Objects.requireNonNull(idOrPath, "idOrPath");
        Path local = Path.of(idOrPath);
        if (Files.exists(local)) {
            return local;
        }
        return new HfHub().resolveId(idOrPath, kind);
    }

    Path resolveId(String idWithRevision, Kind kind) {
        String id = idWithRevision;
        String rev = DEFAULT_REVISION;
        int at = idWithRevision.indexOf('@');
        if (at > 0) {
            id = idWithRevision.substring(0, at);
            rev = idWithRevision.substring(at + 1);
        }
        if (!REPO_ID.matcher(id).matches()) {
            throw new HubException("'" + idWithRevision + "' is neither an existing local path nor a valid Hugging "
                    + "Face repo id (org/name).");
        }
        return switch (kind) {
            case MODEL -> snapshotForModel(id, rev);
            case ADAPTER -> snapshotForAdapter(id, rev);
            case TOKENIZER -> snapshotForTokenizer(id, rev);
        };
    }

    Path repoFolder(String repoId) {
        return settings.hubCache().resolve(repoFolderName(repoId));
    }

    private Optional<String> cachedCommit(String repoId, String revision) {
        String rev = revision == null ? DEFAULT_REVISION : revision;
        if (isCommitHash(rev)) {
            return Optional.of(rev);
        }
        Path ref = repoFolder(repoId).resolve("refs").resolve(rev);
        try {
            return Files.isRegularFile(ref) ? Optional.of(Files.readString(ref, StandardCharsets.UTF_8).strip())
                    : Optional.empty();
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", ref, e);
        }
    }

    /**
     * The shard files a {@code model.safetensors.index.json} names: transformers'
     * {@code sorted(set(json.load(f)["weight_map"].values()))}.
     */
    static List<String> shardNames(Path index) {
        String text;
        try {
            text = Files.readString(index, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", index, e);
        }
        com.google.gson.JsonElement weightMap;
        try {
            com.google.gson.JsonElement root = com.google.gson.JsonParser.parseString(text);
            weightMap = root.isJsonObject() ? root.getAsJsonObject().get("weight_map") : null;
        } catch (com.google.gson.JsonParseException e) {
            throw new HubException(index + " is not valid JSON: " + e.getMessage(), e);
        }
        if (weightMap == null || !weightMap.isJsonObject()) {
            throw new HubException(index + " has no \"weight_map\" object (a sharded checkpoint's index maps each "
                    + "weight to its shard file)");
        }
        TreeSet<String> names = new TreeSet<>();
        for (java.util.Map.Entry<String, com.google.gson.JsonElement> e : weightMap.getAsJsonObject().entrySet()) {
            com.google.gson.JsonElement v = e.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new HubException(index + ": \"weight_map\" entry '" + e.getKey() + "' must be a file name, got "
                        + v);
            }
            names.add(v.getAsString());
        }
        return new ArrayList<>(names);
    }

    private static String validateRepoId(String repoId) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--") || repoId.contains("..")) {
            throw new HubException("Repo id must be in the form 'repo_name' or 'namespace/repo_name': '" + repoId
                    + "'. Use `repo_type` argument if needed.");
        }
        return repoId;
    }
}
