package org.peft4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/**
 * Fuzzes the safetensors reader: mutated files from {@code interop/fixtures/fuzz/safetensors/} are opened and every
 * tensor read. {@link SafeTensors#open} declares {@link IOException} (its {@code SafeTensorsException} subclass for
 * an invalid file); anything else fails. Long run: {@code mvn -o -pl peft-core test -Dtest=SafeTensorsFuzzTest
 * -Dpeft4j.fuzzTries=200000 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class SafeTensorsFuzzTest {
    @Test
    void mutatedFilesRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        FuzzHarness.Result res = FuzzHarness.run(Fixtures.root().resolve("fuzz").resolve("safetensors"), work,
                "model.safetensors", List.of(org.peft4j.FileAccessException.class, org.peft4j.safetensors.SafeTensorsException.class), file -> {
                    try (SafeTensors st = SafeTensors.open(file)) {
                        for (String k : st.keys()) {
                            st.get(k);
                        }
                        st.metadata();
                    }
                });
        System.out.println("SafeTensorsFuzzTest: " + res.tried() + " tried, " + res.accepted() + " accepted, "
                + res.refused() + " refused, " + res.failures().size() + " undeclared");
        assertThat(res.failures()).isEmpty();
        assertThat(res.refused()).as("the mutator reaches the validation").isGreaterThan(res.tried() / 4);
    }
}
