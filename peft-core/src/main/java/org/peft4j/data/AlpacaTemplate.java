package org.peft4j.data;

/**
 * The prompt of an alpaca record: one template for records with an input and one for records without, where
 * {@code {instruction}} and {@code {input}} are replaced. The response (output plus eos) follows the prompt.
 *
 * @param withInput template for records with a non-empty input
 * @param withoutInput template for records with no input
 */
public record AlpacaTemplate(String withInput, String withoutInput) {
    /** The Stanford Alpaca template. */
    public static final AlpacaTemplate STANFORD = new AlpacaTemplate(
            "Below is an instruction that describes a task, paired with an input that provides further context. "
                    + "Write a response that appropriately completes the request.\n\n"
                    + "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n",
            "Below is an instruction that describes a task. "
                    + "Write a response that appropriately completes the request.\n\n"
                    + "### Instruction:\n{instruction}\n\n### Response:\n");

    /** The prompt of {@code record} (everything before its output). */
    public String prompt(InstructionRecord.Alpaca record) {
        boolean hasInput = record.input() != null && !record.input().isEmpty();
        String t = hasInput ? withInput : withoutInput;
        // one pass, so that a '{input}' inside the instruction is not replaced
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < t.length()) {
            if (t.startsWith("{instruction}", i)) {
                sb.append(record.instruction());
                i += "{instruction}".length();
            } else if (t.startsWith("{input}", i)) {
                sb.append(hasInput ? record.input() : "");
                i += "{input}".length();
            } else {
                sb.append(t.charAt(i++));
            }
        }
        return sb.toString();
    }
}
