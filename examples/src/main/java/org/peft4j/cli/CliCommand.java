package org.peft4j.cli;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The base of every subcommand: {@code --verbose}, the output streams of the {@link CommandLine} that runs it, and
 * the exit codes. {@link #run()} returning normally is exit 0; a {@link CommandLine.ParameterException} is bad usage
 * (exit 2, picocli prints the message and the usage); any other exception is a runtime failure (exit 1) reported as
 * one line on standard error, with the stack trace only under {@code --verbose}.
 */
public abstract class CliCommand implements Callable<Integer> {
    /** Exit status of a runtime failure. */
    public static final int EXIT_FAILURE = 1;

    @Spec
    CommandSpec spec;

    @Option(names = "--verbose", description = "Print stack traces of errors and debug logging.")
    boolean verbose;

    /** Does the command's work; throw {@link CliException} for failures the user can fix. */
    protected abstract void run() throws Exception;

    @Override
    public final Integer call() {
        rejectNonFiniteNumbers();
        try {
            run();
            out().flush();
            return 0;
        } catch (CommandLine.ParameterException e) {
            throw e;
        } catch (Exception | LinkageError e) {
            out().flush();
            err().println("peft4j " + spec.name() + ": error: " + describe(e));
            if (verbose) {
                e.printStackTrace(err());
            }
            err().flush();
            return EXIT_FAILURE;
        }
    }

    /**
     * Refuses a floating-point option given as a number beyond the double range or not a number at all: Java
     * parses {@code 1e400} as Infinity and accepts {@code NaN}, which would otherwise saturate silently.
     */
    private void rejectNonFiniteNumbers() {
        for (CommandLine.Model.OptionSpec o : spec.options()) {
            Object v = o.getValue();
            if (v instanceof Double d && !Double.isFinite(d) || v instanceof Float f && !Float.isFinite(f)) {
                throw usage("Invalid value for option '" + o.longestName() + "': '"
                        + String.join(" ", o.originalStringValues()) + "' is not a finite number");
            }
        }
    }

    /** Standard output of the running command line. */
    protected PrintWriter out() {
        return spec.commandLine().getOut();
    }

    /** Standard error of the running command line. */
    protected PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** A usage error for option {@code option} (exit 2 with the usage help). */
    protected CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** The one-line description of a failure: its message, with file-system exceptions spelled out. */
    static String describe(Throwable e) {
        Throwable t = e;
        if (t instanceof UncheckedIOException && t.getCause() != null) {
            String outer = t.getMessage() == null ? null : oneLine(t.getMessage());
            String inner = describe(t.getCause());
            return outer != null && !outer.equals(oneLine(t.getCause().toString())) && !inner.contains(outer)
                    ? outer + ": " + inner : inner;
        }
        if (t instanceof org.peft4j.FileAccessException && (t.getCause() instanceof NoSuchFileException
                || t.getCause() instanceof AccessDeniedException)) {
            return describe(t.getCause());
        }
        String msg;
        if (t instanceof NoSuchFileException nsf) {
            msg = "file not found: " + nsf.getFile() + (nsf.getReason() == null ? "" : " (" + nsf.getReason() + ")");
        } else if (t instanceof AccessDeniedException ade) {
            msg = "permission denied: " + ade.getFile();
        } else if (t.getMessage() == null || t.getMessage().isBlank()) {
            msg = t.getClass().getSimpleName() + (t.getCause() != null ? ": " + describe(t.getCause()) : "")
                    + " (run with --verbose for the stack trace)";
        } else {
            msg = t.getMessage();
        }
        return oneLine(msg);
    }

    private static String oneLine(String msg) {
        return msg.strip().replaceAll("\\s*\\R\\s*", " ");
    }
}
