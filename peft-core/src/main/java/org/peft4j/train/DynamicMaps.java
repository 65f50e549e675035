package org.peft4j.train;

/** bitsandbytes' {@code create_dynamic_map(signed=True)} and {@code (signed=False)}: the 8-bit optimizer maps. */
final class DynamicMaps {
    static final float[] SIGNED = null;
    static final float[] UNSIGNED = null;

    private DynamicMaps() {
    }
}
