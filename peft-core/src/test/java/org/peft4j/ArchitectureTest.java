package org.peft4j;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.Test;

/**
 * The layers of peft-core, checked on the compiled classes: each package may use only the packages below it, and no
 * two packages depend on each other. From the bottom: {@code tensor} and {@code util}; {@code quant} (block-wise
 * quantization); {@code safetensors},
 * {@code graph} and {@code data}; {@code runtime} and {@code autodiff}; {@code nn}; {@code models} (with its
 * families and {@code models.auto}); {@code generation}; {@code train}; {@code peft.config}, {@code peft.tuners},
 * {@code peft}. Tuner modules (peft-lora, ...) and the examples sit above all of them.
 */
class ArchitectureTest {
    private static final JavaClasses CORE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("org.peft4j");

    static final ArchRule LAYERS = layeredArchitecture().consideringOnlyDependenciesInLayers()
            .layer("tensor").definedBy("org.peft4j.tensor..")
            .layer("util").definedBy("org.peft4j.util..")
            .layer("quant").definedBy("org.peft4j.quant..")
            .layer("safetensors").definedBy("org.peft4j.safetensors..")
            .layer("hub").definedBy("org.peft4j.hub..")
            .layer("graph").definedBy("org.peft4j.graph..")
            .layer("data").definedBy("org.peft4j.data..")
            .layer("runtime").definedBy("org.peft4j.runtime..")
            .layer("autodiff").definedBy("org.peft4j.autodiff..")
            .layer("nn").definedBy("org.peft4j.nn..")
            .layer("models").definedBy("org.peft4j.models..")
            .layer("generation").definedBy("org.peft4j.generation..")
            .layer("train").definedBy("org.peft4j.train..")
            .layer("peft.config").definedBy("org.peft4j.peft.config..")
            .layer("peft.tuners").definedBy("org.peft4j.peft.tuners..")
            .layer("peft").definedBy("org.peft4j.peft")
            .whereLayer("tensor").mayNotAccessAnyLayer()
            .whereLayer("util").mayNotAccessAnyLayer()
            .whereLayer("quant").mayOnlyAccessLayers("tensor", "util")
            .whereLayer("safetensors").mayOnlyAccessLayers("tensor", "util")
            .whereLayer("hub").mayNotAccessAnyLayer()
            .whereLayer("graph").mayOnlyAccessLayers("tensor", "util")
            .whereLayer("data").mayOnlyAccessLayers("hub", "tensor", "util")
            .whereLayer("runtime").mayOnlyAccessLayers("graph", "tensor", "util")
            .whereLayer("autodiff").mayOnlyAccessLayers("graph", "tensor", "util")
            .whereLayer("nn").mayOnlyAccessLayers("quant", "graph", "tensor", "util")
            .whereLayer("models").mayOnlyAccessLayers("hub", "quant", "nn", "runtime", "autodiff", "graph", "safetensors",
                    "tensor", "util")
            .whereLayer("generation").mayOnlyAccessLayers("models", "nn", "runtime", "graph", "tensor", "util")
            .whereLayer("train").mayOnlyAccessLayers("quant", "models", "data", "nn", "runtime", "autodiff", "graph",
                    "safetensors", "tensor", "util")
            .whereLayer("peft.config").mayOnlyAccessLayers("tensor", "util")
            .whereLayer("peft.tuners").mayOnlyAccessLayers("quant", "peft.config", "models", "nn", "runtime",
                    "autodiff", "graph", "tensor", "util")
            .whereLayer("peft").mayOnlyAccessLayers("hub", "quant", "peft.tuners", "peft.config", "generation",
                    "data", "models", "nn",
                    "runtime", "graph", "safetensors", "tensor", "util");

    static final ArchRule NO_PACKAGE_CYCLES = slices().matching("org.peft4j.(**)").should().beFreeOfCycles();

    @Test
    void noPackageUsesAHigherLayer() {
        LAYERS.check(CORE);
    }

    @Test
    void noTwoPackagesDependOnEachOther() {
        NO_PACKAGE_CYCLES.check(CORE);
    }
}
