/**
 * Prefix tuning (PEFT's {@code PREFIX_TUNING}): {@link org.peft4j.prefix.PrefixTuningConfig}, the prompt encoder
 * {@link org.peft4j.prefix.PrefixEncoder} and the tuner {@link org.peft4j.prefix.PrefixTuner}, registered for
 * {@code PeftConfigs} / {@code Peft.getPeftModel} / {@code PeftModel.fromPretrained} through
 * {@code META-INF/services/org.peft4j.peft.tuners.PeftTuner}.
 */
package org.peft4j.prefix;
