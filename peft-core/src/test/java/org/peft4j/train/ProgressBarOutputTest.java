package org.peft4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bar redraws with \r only on a terminal; into a file or pipe it writes whole lines, a bounded number. */
class ProgressBarOutputTest {
    private static String run(boolean terminal, long firstStep, long maxSteps) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressBar bar = new ProgressBar(new PrintStream(bytes, true, StandardCharsets.UTF_8), terminal);
        for (long s = firstStep; s <= maxSteps; s++) {
            bar.onStepEnd(s, maxSteps, 1.0, 1e-4);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void notATerminalGivesLinesWithoutCarriageReturns() {
        String text = run(false, 1, 100);
        assertThat(text).doesNotContain("\r");
        List<String> lines = text.lines().toList();
        // steps 1, 5, 10, ..., 100: the first and every twentieth of the run
        assertThat(lines).hasSize(21);
        assertThat(lines.get(0)).contains(" 1/100 ");
        assertThat(lines.get(1)).contains(" 5/100 ");
        assertThat(lines.get(20)).contains(" 100/100 ");
    }

    @Test
    void aResumedRunPrintsItsFirstStepAndTheLast() {
        List<String> lines = run(false, 8, 10).lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).contains(" 8/10 ");
        assertThat(lines.get(2)).contains(" 10/10 ");
    }

    @Test
    void aTerminalRedrawsInPlace() {
        String text = run(true, 1, 3);
        assertThat(text).startsWith("\r[").contains(" 3/3 ").endsWith(System.lineSeparator());
        assertThat(text.chars().filter(c -> c == '\r').count()).isEqualTo(3);
    }
}
