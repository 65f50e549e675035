package org.peft4j.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.peft4j.safetensors.SafeTensors;
import org.peft4j.testutil.Fixtures;

/** {@link DynamicMap} against bitsandbytes' create_dynamic_map (interop/make_quant_fixtures.py). */
class DynamicMapTest {
    static Path fixture() {
        return Fixtures.root().resolve("quant").resolve("blockwise8.safetensors");
    }

    static float[] bnbMap(boolean signed) throws Exception {
        try (SafeTensors st = SafeTensors.open(fixture())) {
            return st.get(signed ? "map_signed" : "map_unsigned").toFloatArray();
        }
    }

    @Test
    void signedMapIsBitExactWithBnb() throws Exception {
        assertBitExact(DynamicMap.create(true), bnbMap(true));
    }

    @Test
    void unsignedMapIsBitExactWithBnb() throws Exception {
        assertBitExact(DynamicMap.create(false), bnbMap(false));
    }

    @Test
    void anchorsOfTheSignedMapAsPublished() {
        float[] m = DynamicMap.create(true);
        // qlora.md section 3: idx0 = -0.992968738079071, idx127 = 0, idx128 = 5.5000004e-07, idx255 = 1
        assertThat((double) m[0]).isEqualTo(-0.992968738079071);
        assertThat(m[127]).isEqualTo(0f);
        assertThat(m[128]).isEqualTo(5.5000004e-07f);
        assertThat((double) m[254]).isEqualTo(0.992968738079071);
        assertThat(m[255]).isEqualTo(1.0f);
    }

    static void assertBitExact(float[] actual, float[] expected) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(Float.floatToRawIntBits(actual[i])).as("entry %d: %s vs bnb %s", i, actual[i], expected[i])
                    .isEqualTo(Float.floatToRawIntBits(expected[i]));
        }
    }
}
