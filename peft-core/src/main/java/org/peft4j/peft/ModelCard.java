package org.peft4j.peft;

import java.util.Locale;
import org.peft4j.peft.config.PeftConfig;

/** The {@code README.md} written next to saved adapters, with the YAML front matter PEFT writes. */
final class ModelCard {
    private ModelCard() {
    }

    static String render(String baseModel, PeftConfig config) {
        String type = config.peftType().name().toLowerCase(Locale.ROOT);
        StringBuilder sb = new StringBuilder();
        sb.append("---\n");
        if (baseModel != null && !baseModel.isEmpty()) {
            sb.append("base_model: ").append(baseModel).append('\n');
        }
        sb.append("library_name: peft\n");
        sb.append("tags:\n");
        if (baseModel != null && !baseModel.isEmpty()) {
            sb.append("- base_model:adapter:").append(baseModel).append('\n');
        }
        sb.append("- ").append(type).append('\n');
        sb.append("- peft4j\n");
        sb.append("---\n\n");
        sb.append("# Model Card for Model ID\n\n");
        sb.append("A ").append(config.peftType()).append(" adapter trained with peft4j (PEFT for the JVM).\n\n");
        sb.append("### Framework versions\n\n- ").append(PeftConfig.PEFT4J_VERSION).append('\n');
        return sb.toString();
    }
}
