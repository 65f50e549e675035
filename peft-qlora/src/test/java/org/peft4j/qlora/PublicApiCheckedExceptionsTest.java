package org.peft4j.qlora;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.peft4j.testutil.PublicApi;

/**
 * Issue 15: no public method or constructor of peft-qlora declares a checked exception (as peft-core's
 * {@code org.peft4j.PublicApiCheckedExceptionsTest}); failures are unchecked {@code Peft4jException}s.
 */
class PublicApiCheckedExceptionsTest {
    @Test
    void noPublicMemberDeclaresACheckedException() {
        assertThat(PublicApi.membersDeclaringCheckedExceptions(BitsAndBytesConfig.class))
                .as("public members declaring checked exceptions").isEmpty();
    }
}
