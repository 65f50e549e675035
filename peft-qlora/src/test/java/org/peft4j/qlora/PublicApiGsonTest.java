package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.PublicApi;

/**
 * Issue 15: no Gson types in peft-qlora's public API (as peft-core's {@code org.peft4j.PublicApiGsonTest}). The
 * members in {@link #KNOWN} still expose Gson; the list may only shrink.
 */
class PublicApiGsonTest {
    static final Set<String> KNOWN = Set.of();

    @Test
    void noNewGsonTypesInThePublicApi() {
        TreeSet<String> leaks = PublicApi.membersMentioning(BitsAndBytesConfig.class, "com.google.gson");
        assertThat(leaks).as("public members mentioning Gson (only the known ones may)").isSubsetOf(KNOWN);
        assertThat(KNOWN).as("known leaks that are gone: remove them from KNOWN").isSubsetOf(leaks);
    }
}
