package org.peft4j.hub;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The Hugging Face Hub settings huggingface_hub reads from the environment ({@code constants.py}): cache folder,
 * endpoint, token and offline mode. {@link #fromEnvironment()} reads {@link System#getenv()}; tests pass a map.
 *
 * @param hubCache the cache folder: {@code HF_HUB_CACHE}, else {@code HF_HOME/hub}, else
 *     {@code ~/.cache/huggingface/hub} ({@code XDG_CACHE_HOME/huggingface/hub} when that is set)
 * @param endpoint {@code HF_ENDPOINT}, default {@code https://huggingface.co}, without a trailing slash
 * @param token {@code HF_TOKEN}, else the content of {@code HF_TOKEN_PATH} or {@code HF_HOME/token}; null if none
 * @param offline {@code HF_HUB_OFFLINE} or {@code TRANSFORMERS_OFFLINE} set to 1/ON/YES/TRUE
 */
public record HubSettings(Path hubCache, String endpoint, String token, boolean offline) {

    /** The default endpoint, as huggingface_hub's {@code ENDPOINT}. */
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    /** Validates and normalises the endpoint (no trailing slash). */
    public HubSettings {
        Objects.requireNonNull(hubCache, "hubCache");
        endpoint = endpoint == null || endpoint.isBlank() ? DEFAULT_ENDPOINT : endpoint.replaceAll("/+$", "");
        token = token == null || token.isBlank() ? null : token.strip();
    }

    /** The settings from this process's environment. */
    public static HubSettings fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /** The settings from the given environment variables, with huggingface_hub's precedence rules. */
    public static HubSettings fromEnvironment(Map<String, String> env) {
        Path home = Path.of(System.getProperty("user.home"));
        String xdg = env.get("XDG_CACHE_HOME");
        Path hfHome = nonEmpty(env.get("HF_HOME")) ? expand(env.get("HF_HOME"), home)
                : (nonEmpty(xdg) ? expand(xdg, home) : home.resolve(".cache")).resolve("huggingface");
        Path cache = nonEmpty(env.get("HF_HUB_CACHE")) ? expand(env.get("HF_HUB_CACHE"), home)
                : nonEmpty(env.get("HUGGINGFACE_HUB_CACHE")) ? expand(env.get("HUGGINGFACE_HUB_CACHE"), home)
                : hfHome.resolve("hub");
        String token = env.get("HF_TOKEN");
        if (!nonEmpty(token)) {
            token = env.get("HUGGING_FACE_HUB_TOKEN");
        }
        if (!nonEmpty(token)) {
            Path tokenFile = nonEmpty(env.get("HF_TOKEN_PATH")) ? expand(env.get("HF_TOKEN_PATH"), home)
                    : hfHome.resolve("token");
            try {
                token = java.nio.file.Files.isRegularFile(tokenFile) ? java.nio.file.Files.readString(tokenFile) : null;
            } catch (java.io.IOException e) {
                token = null;
            }
        }
        boolean offline = isTrue(env.get("HF_HUB_OFFLINE")) || isTrue(env.get("TRANSFORMERS_OFFLINE"));
        return new HubSettings(cache, env.get("HF_ENDPOINT"), token, offline);
    }

    /** The same settings with {@code offline} replaced. */
    public HubSettings withOffline(boolean offline) {
        return new HubSettings(hubCache, endpoint, token, offline);
    }

    private static boolean nonEmpty(String s) {
        return s != null && !s.isEmpty();
    }

    static boolean isTrue(String value) {
        return value != null && switch (value.strip().toUpperCase(Locale.ROOT)) {
            case "1", "ON", "YES", "TRUE" -> true;
            default -> false;
        };
    }

    private static Path expand(String p, Path home) {
        return p.equals("~") ? home : p.startsWith("~/") ? home.resolve(p.substring(2)) : Path.of(p);
    }
}
