/**
 * Block-wise quantization shared by quantized weights and quantized optimizer states, bit-exact with bitsandbytes:
 * the 8-bit dynamic maps ({@code create_dynamic_map}) and block-wise 8-bit quantization
 * ({@code quantize_blockwise} / {@code dequantize_blockwise}). Depends only on {@code tensor} and {@code util}.
 */
package org.peft4j.quant;
