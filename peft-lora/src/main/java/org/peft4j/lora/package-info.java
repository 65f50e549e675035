/**
 * LoRA for peft4j (PEFT's {@code peft.tuners.lora}): {@link org.peft4j.lora.LoraConfig}, the tuner
 * {@link org.peft4j.lora.LoraModel}, and the layers {@link org.peft4j.lora.LoraLinear} (any
 * {@link org.peft4j.nn.LinearLike} base: Linear, GPT-2 Conv1D, ...), {@link org.peft4j.lora.LoraEmbedding} and the
 * fused-projection extension {@link org.peft4j.lora.LoraMergedLinear}.
 *
 * <p>Other modules extend LoRA through {@link org.peft4j.lora.LoraDispatcher}s (which layer wraps which module),
 * {@link org.peft4j.lora.LoraVariant}s (DoRA is {@link org.peft4j.lora.DoraVariant}), the
 * {@link org.peft4j.lora.LoraAdapterSpec} of an adapter, and {@link org.peft4j.lora.LoraMath}, which holds all merge
 * arithmetic.
 */
package org.peft4j.lora;
