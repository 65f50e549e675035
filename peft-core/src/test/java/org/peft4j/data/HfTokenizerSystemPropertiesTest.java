package org.peft4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.testutil.Fixtures;

/** Loading a tokenizer leaves the JVM-wide DJL switches as the host application set them (or left them unset). */
class HfTokenizerSystemPropertiesTest {
    private static final String OFFLINE = "ai.djl.offline";
    private static final String TRACKING = "OPT_OUT_TRACKING";

    @Test
    void unsetSwitchesStayUnsetAfterALoad() {
        assumeTrue(System.getenv(OFFLINE) == null && System.getenv(TRACKING) == null, "not set in the environment");
        String offline = System.clearProperty(OFFLINE);
        String tracking = System.clearProperty(TRACKING);
        try (HfTokenizer tok = HfTokenizer.load(Fixtures.root().resolve("tokenizer"))) {
            assertThat(tok.vocabSize()).isPositive();
            assertThat(System.getProperty(OFFLINE)).isNull();
            assertThat(System.getProperty(TRACKING)).isNull();
        } finally {
            restore(OFFLINE, offline);
            restore(TRACKING, tracking);
        }
    }

    @Test
    void theHostsOwnSettingsAreKept() {
        String offline = System.setProperty(OFFLINE, "false");
        String tracking = System.setProperty(TRACKING, "false");
        try (HfTokenizer tok = HfTokenizer.load(Fixtures.root().resolve("tokenizer"))) {
            assertThat(tok.vocabSize()).isPositive();
            assertThat(System.getProperty(OFFLINE)).isEqualTo("false");
            assertThat(System.getProperty(TRACKING)).isEqualTo("false");
        } finally {
            restore(OFFLINE, offline);
            restore(TRACKING, tracking);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
