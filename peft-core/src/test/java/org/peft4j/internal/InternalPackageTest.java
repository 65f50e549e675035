package org.peft4j.internal;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * {@code org.peft4j.internal} is the bottom layer, like {@code util}: it may use Gson, the JDK and peft4j's exception
 * types (package {@code org.peft4j}), no other peft4j package, so that every layer may use it.
 */
class InternalPackageTest {
    @Test
    void theInternalPackageUsesNoOtherPeft4jPackage() {
        JavaClasses core = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.peft4j");
        noClasses().that().resideInAPackage("org.peft4j.internal..").should().dependOnClassesThat()
                .resideOutsideOfPackages("org.peft4j.internal..", "org.peft4j", "java..", "com.google.gson..")
                .check(core);
    }
}
