/**
 * Instruction data for fine-tuning: tokenizers ({@link org.peft4j.data.HfTokenizer},
 * {@link org.peft4j.data.ByteLevelTokenizer}), loading alpaca and chat records from JSON / JSONL
 * ({@link org.peft4j.data.InstructionData}), prompt formatting ({@link org.peft4j.data.AlpacaTemplate},
 * {@link org.peft4j.data.ChatTemplate}), tokenisation with response-only labels
 * ({@link org.peft4j.data.SftTokenizer}) and padding ({@link org.peft4j.data.PaddingCollator}).
 */
package org.peft4j.data;
