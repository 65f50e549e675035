package org.peft4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.safetensors.SafeTensorsException;

/**
 * Coverage-guided fuzzing of the safetensors reader with Jazzer (issue 16 section 5). In {@code mvn verify} Jazzer
 * runs in regression mode: every committed input under {@code SafeTensorsJazzerTestInputs/safetensors/} (test
 * resources: the seed files and any crasher found) is replayed. {@code JAZZER_FUZZ=1 mvn -o -pl peft-core test
 * -Dtest=SafeTensorsJazzerTest} fuzzes for {@code maxDuration}, guided by coverage. Only the reader's declared
 * exceptions ({@link org.peft4j.FileAccessException}, {@link SafeTensorsException}) may escape; anything else, an Error included, is a
 * finding.
 */
class SafeTensorsJazzerTest {
    @FuzzTest(maxDuration = "60s")
    void safetensors(byte[] data) throws IOException {
        Path f = Files.createTempFile("jazzer", ".safetensors");
        try {
            Files.write(f, data);
            try (SafeTensors st = SafeTensors.open(f)) {
                for (String k : st.keys()) {
                    st.get(k).numel();
                }
            } catch (org.peft4j.FileAccessException | SafeTensorsException expected) {
                // declared: a bad file is refused by name
            }
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
