package org.peft4j.qlora;

import java.nio.file.Path;
import org.peft4j.testutil.Fixtures;

/** Paths of the 4-bit checkpoint fixtures ({@code interop/make_io_fixtures.py}). */
final class IoFixtures {
    private IoFixtures() {
    }

    static Path root() {
        return Fixtures.root().resolve("io");
    }

    /** {@code float}, {@code nf4-dq} or {@code fp4}. */
    static Path folder(String name) {
        return root().resolve(name);
    }

    static Path reference() {
        return root().resolve("reference.safetensors");
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths " + a.length + " vs " + b.length);
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
