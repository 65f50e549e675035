package org.peft4j.cli;

import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code peft4j} command line: LoRA fine-tuning, generation before/after an adapter, merging and module
 * inspection of Hugging Face model folders. Without a subcommand it prints the usage help.
 *
 * <p>Exit codes: 0 success, 1 runtime failure (one line on standard error; {@code --verbose} adds the stack
 * trace), 2 bad usage.
 */
@Command(name = "peft4j", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Parameter-efficient fine-tuning (Hugging Face PEFT) on ONNX Runtime.",
        subcommands = {DemoCommand.class, FinetuneCommand.class, GenerateCommand.class, MergeCommand.class, InspectCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Without --model / --data, finetune and generate use the embedded default model and data in "
            + "examples/default/ of the peft4j folder.", "Defaults for LoRA fine-tuning differ from the library's "
            + "(PEFT / transformers): --lora-alpha 16 (8), --lora-dropout 0.05 (0.0), --learning-rate 2e-4 (5e-5), "
            + "--logging-steps 10 (500).", "Run 'peft4j <command> --help' for a command's options."})
public final class Peft4jCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** No subcommand: the usage help. */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * A {@link CommandLine} for this command (what {@link #main} runs). Bad usage prints the one error (with
     * picocli's suggestions for a mistyped option or command) and a hint to {@code --help}, not the whole help.
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Peft4jCli());
        cl.setParameterExceptionHandler(Peft4jCli::shortUsageError);
        return cl;
    }

    private static int shortUsageError(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        java.io.PrintWriter err = cmd.getErr();
        err.println(cmd.getColorScheme().errorText(cmd.getCommandSpec().qualifiedName() + ": " + ex.getMessage()));
        CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Run '" + cmd.getCommandSpec().qualifiedName() + " --help' for its options.");
        err.flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** Runs the command line and exits with its status. */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        configureLogging(Arrays.asList(args).contains("--verbose"));
        System.exit(commandLine().execute(args));
    }

    /** slf4j-simple: short lines on standard error, debug with {@code --verbose} (before the first logger). */
    static void configureLogging(boolean verbose) {
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "debug" : "info");
        setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
        setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
        setIfAbsent("org.slf4j.simpleLogger.levelInBrackets", "true");
        // DJL announces the platform of its native tokenizer library at info level on every start
        setIfAbsent("org.slf4j.simpleLogger.log.ai.djl", verbose ? "debug" : "warn");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
