package org.peft4j.testutil;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Locates the committed fixtures written by the Python peer ({@code interop/fixtures}). */
public final class Fixtures {
    private Fixtures() {
    }

    /** The {@code interop/fixtures} folder, found from the working directory upwards. */
    public static Path root() {
        Path p = Paths.get("").toAbsolutePath();
        while (p != null) {
            Path f = p.resolve("interop").resolve("fixtures");
            if (Files.isDirectory(f)) {
                return f;
            }
            p = p.getParent();
        }
        throw new IllegalStateException("interop/fixtures not found above " + Paths.get("").toAbsolutePath());
    }

    /** A file of {@code interop/fixtures/safetensors} (written by interop/safetensors_fixtures.py). */
    public static Path safetensors(String name) {
        return root().resolve("safetensors").resolve(name);
    }

    public static Path model(String name) {
        return root().resolve("models").resolve(name);
    }

    public static Path reference(String name) {
        return root().resolve("reference").resolve(name + ".safetensors");
    }

    public static JsonObject referenceJson(String name) throws IOException {
        return json(root().resolve("reference").resolve(name + ".json"));
    }

    public static JsonObject json(Path file) throws IOException {
        return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
    }

    /** Largest absolute difference of two equally long arrays. */
    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
