package org.peft4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.testutil.PublicApi;

/**
 * Issue 15: one unchecked exception hierarchy. Scans every public class of peft-core by reflection (public and, in
 * extensible classes, protected methods and constructors) and fails if one declares a checked exception such as
 * {@link java.io.IOException}: failures are {@link Peft4jException} subtypes ({@link FileAccessException} for a file
 * that cannot be read or written, {@link InvalidInputException} for bad content). None are left;
 * {@link #KNOWN} stays empty.
 */
class PublicApiCheckedExceptionsTest {
    static final Set<String> KNOWN = Set.of();

    @Test
    void noPublicMemberOfPeftCoreDeclaresACheckedException() {
        TreeSet<String> declared = PublicApi.membersDeclaringCheckedExceptions(Peft4jException.class);
        assertThat(declared).as("public members declaring checked exceptions (only the known ones may)")
                .isSubsetOf(KNOWN);
        assertThat(KNOWN).as("known ones that are gone: remove them from KNOWN").isSubsetOf(declared);
    }

    @Test
    void theScanSeesACheckedExceptionWhereItIs() {
        // a check that cannot fail is no check: the test helper Fixtures.json declares IOException
        assertThat(PublicApi.membersDeclaringCheckedExceptions(org.peft4j.testutil.Fixtures.class))
                .contains("org.peft4j.testutil.Fixtures#json(java.nio.file.Path) throws java.io.IOException");
    }
}
