package org.peft4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.PublicApi;

/**
 * Issue 15: no Gson types in the public API. Scans every public class of peft-core by reflection (superclass,
 * interfaces, public and, in extensible classes, protected constructors, methods and fields). The members listed in
 * {@link #KNOWN} still expose Gson and are to be replaced by plain Java types (maps, strings); the list may only
 * shrink: a new leak fails, and so does an entry that is gone (remove it from the list).
 */
class PublicApiGsonTest {
    static final Set<String> KNOWN = Set.of();

    @Test
    void noNewGsonTypesInPeftCoresPublicApi() {
        TreeSet<String> leaks = PublicApi.membersMentioning(Peft4jException.class, "com.google.gson");
        assertThat(leaks).as("public members mentioning Gson (only the known ones may)").isSubsetOf(KNOWN);
        assertThat(KNOWN).as("known leaks that are gone: remove them from KNOWN").isSubsetOf(leaks);
    }

    @Test
    void theScanSeesGsonWhereItIs() {
        // a check that cannot fail is no check: the scanner finds a planted Gson signature in a test class
        assertThat(PublicApi.membersMentioning(org.peft4j.testutil.Fixtures.class, "com.google.gson"))
                .contains("org.peft4j.testutil.Fixtures#json(java.nio.file.Path)");
    }

    @Test
    void onlyInternalPackagesAreLeftOut() {
        // the scan leaves out org.peft4j.internal (Gson's home, documented as not API) and nothing else
        assertThat(PublicApi.isInternal(org.peft4j.internal.StrictGson.class)).isTrue();
        assertThat(PublicApi.isInternal(org.peft4j.models.ModelConfig.class)).isFalse();
        assertThat(PublicApi.isInternal(org.peft4j.util.AtomicFiles.class)).isFalse();
        assertThat(PublicApi.isInternal(com.google.gson.internal.LazilyParsedNumber.class)).isTrue();
    }
}
