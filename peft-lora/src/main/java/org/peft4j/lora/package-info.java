/**
 * LoRA for peft4j (PEFT's {@code peft.tuners.lora}): {@link org.peft4j.lora.LoraConfig}, the tuner
 * {@link org.peft4j.lora.LoraModel}, and the layers {@link org.peft4j.lora.LoraLinear} (Linear and GPT-2 Conv1D,
 * optionally DoRA), {@link org.peft4j.lora.LoraEmbedding} and the fused-projection extension
 * {@link org.peft4j.lora.LoraMergedLinear}.
 */
package org.peft4j.lora;
