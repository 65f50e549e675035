package org.peft4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.data.DataFormatException;
import org.peft4j.data.InstructionData;
import org.peft4j.testutil.Fixtures;

/**
 * Fuzzes instruction data loading (JSON arrays and JSON lines) with mutations of
 * {@code interop/fixtures/fuzz/data/}. {@link InstructionData#load} declares {@link DataFormatException} for a bad
 * record and {@link org.peft4j.FileAccessException} for an unreadable file; anything else fails. Long run: {@code mvn -o -pl
 * peft-core test -Dtest=InstructionDataFuzzTest -Dpeft4j.fuzzTries=200000 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class InstructionDataFuzzTest {
    @Test
    void mutatedJsonArraysRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        check(work, "data.json");
    }

    @Test
    void mutatedJsonLinesRaiseOnlyDeclaredExceptions(@TempDir Path work) throws IOException {
        check(work, "data.jsonl");
    }

    private static void check(Path work, String name) throws IOException {
        FuzzHarness.Result res = FuzzHarness.run(Fixtures.root().resolve("fuzz").resolve("data"), work, name,
                List.of(DataFormatException.class, org.peft4j.FileAccessException.class), InstructionData::load);
        System.out.println("InstructionDataFuzzTest(" + name + "): " + res.tried() + " tried, " + res.accepted()
                + " accepted, " + res.refused() + " refused, " + res.failures().size() + " undeclared");
        assertThat(res.failures()).isEmpty();
        assertThat(res.refused()).isGreaterThan(res.tried() / 10);
        assertThat(res.accepted()).isGreaterThan(0);
    }
}
