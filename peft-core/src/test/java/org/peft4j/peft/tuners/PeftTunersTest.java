package org.peft4j.peft.tuners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.models.PreTrainedModel;
import org.peft4j.peft.config.ConfigJson;
import org.peft4j.peft.config.PeftConfig;
import org.peft4j.peft.config.PeftType;

class PeftTunersTest {
    /** A tuner that claims {@code type} and does nothing else. */
    private static final class Claim implements PeftTuner {
        private final PeftType type;

        Claim(PeftType type) {
            this.type = type;
        }

        @Override
        public PeftType peftType() {
            return type;
        }

        @Override
        public PeftConfig parseConfig(ConfigJson json) {
            throw new UnsupportedOperationException();
        }

        @Override
        public TunerModel createModel(PreTrainedModel model) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void twoTunersForOnePeftTypeAreRefusedNamingBoth() {
        assertThatThrownBy(() -> PeftTuners.index(List.of(new Claim(PeftType.IA3), new Claim(PeftType.IA3))))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("IA3")
                .hasMessageContaining(Claim.class.getName() + " and " + Claim.class.getName());
        assertThat(PeftTuners.index(List.of(new Claim(PeftType.IA3), new Claim(PeftType.ADALORA))))
                .containsOnlyKeys(PeftType.IA3, PeftType.ADALORA);
    }

    @Test
    void unknownTypesNameTheModuleToAdd() {
        assertThatThrownBy(() -> PeftTuners.forType(PeftType.ADAPTION_PROMPT)).hasMessageContaining("ADAPTION_PROMPT")
                .hasMessageContaining("class path");
    }
}
