package org.peft4j.safetensors;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the committed Python-written fixtures in {@code interop/fixtures/safetensors}. */
public final class Fixtures {
    private Fixtures() {
    }

    /** The fixture directory, found by walking up from the working directory (peft-core when Maven runs tests). */
    public static Path dir() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path candidate = d.resolve("interop").resolve("fixtures").resolve("safetensors");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("interop/fixtures/safetensors not found above " + Path.of("").toAbsolutePath()
                + "; regenerate with python3 interop/safetensors_fixtures.py");
    }

    public static Path file(String name) {
        return dir().resolve(name);
    }
}
