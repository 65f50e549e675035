package org.peft4j.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A supervised fine-tuning data set read straight from a JSON or JSONL file (alpaca {@code {instruction, input,
 * output}} or chat {@code {messages}} records, see {@link InstructionData}) and tokenised with the tokenizer's chat
 * template ({@link SftTokenizer#of}): what TRL's {@code SFTTrainer} does with a data file and a tokenizer. Examples
 * whose responses were truncated away by {@code maxLength} are dropped (they would add nothing to the loss).
 *
 * <pre>{@code
 * SftDataset data = SftDataset.load(Path.of("train.jsonl"), tokenizer, 512);
 * trainer.train(data.examples(), null, PaddingCollator.forTokenizer(tokenizer), null);
 * }</pre>
 *
 * @param file the file read
 * @param examples the tokenised examples kept, labels on the responses only
 * @param records how many records the file held
 */
public record SftDataset(Path file, List<TokenizedExample> examples, int records) {
    /** The examples list is copied, unmodifiable. */
    public SftDataset {
        examples = List.copyOf(examples);
    }

    /**
     * Reads and tokenises {@code file}.
     *
     * @param file a JSON or JSONL file of alpaca or chat records
     * @param tokenizer the model's tokenizer
     * @param maxLength the longest example kept, in tokens (longer ones are cut on the right)
     * @return the data set
     * @throws DataFormatException when the file is not records of a known format, holds no record, or no example
     *     keeps a response token within {@code maxLength}; the message names the file
     */
    public static SftDataset load(Path file, Tokenizer tokenizer, int maxLength) {
        return load(file, SftTokenizer.of(tokenizer, maxLength), maxLength);
    }

    /**
     * Reads and tokenises {@code file} with {@code sft} (a tokenizer with a chosen chat or alpaca template).
     *
     * @param file a JSON or JSONL file of alpaca or chat records
     * @param sft the SFT tokenizer
     * @param maxLength the {@code maxLength} {@code sft} was made with (named in errors)
     * @return the data set
     * @throws DataFormatException as {@link #load(Path, Tokenizer, int)}
     */
    public static SftDataset load(Path file, SftTokenizer sft, int maxLength) {
        List<InstructionRecord> records = InstructionData.load(file);
        if (records.isEmpty()) {
            throw new DataFormatException(file + ": no records (expected alpaca {instruction, input, output} or chat "
                    + "{messages} records)");
        }
        List<TokenizedExample> kept = new ArrayList<>();
        for (TokenizedExample ex : sft.tokenizeAll(records)) {
            if (ex.countedTokens() > 0) {
                kept.add(ex);
            }
        }
        if (kept.isEmpty()) {
            throw new DataFormatException(file + ": no example has response tokens within max length " + maxLength
                    + " (chat records need an assistant turn)");
        }
        return new SftDataset(file, kept, records.size());
    }

    /** How many records were dropped because no response token was left within the maximum length. */
    public int skipped() {
        return records - examples.size();
    }
}
