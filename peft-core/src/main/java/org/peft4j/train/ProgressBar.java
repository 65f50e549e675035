package org.peft4j.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line console progress bar: steps, loss, learning rate, tokens per second and time left, redrawn in place
 * ({@code \r}) on a terminal. When the output is not a terminal (a log file, a pipe, CI), no {@code \r} is written:
 * the same line is printed as a line of its own at the run's first step, every twentieth of the run and the last
 * step.
 */
final class ProgressBar implements TrainerCallback {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private final boolean terminal;
    private final long startNanos = System.nanoTime();
    private long tokens;
    private long firstStep = -1;

    /** A bar on {@code out}, redrawn in place when the process runs on a terminal ({@link System#console()}). */
    ProgressBar(PrintStream out) {
        this(out, System.console() != null);
    }

    ProgressBar(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    void addTokens(long n) {
        tokens += n;
    }

    @Override
    public void onStepEnd(long step, long maxSteps, double loss, double learningRate) {
        if (firstStep < 0) {
            firstStep = step - 1;
        }
        String text = line(step, maxSteps, loss, learningRate, (System.nanoTime() - startNanos) / 1e9, tokens,
                step - firstStep);
        if (terminal) {
            out.print("\r" + text);
            if (step == maxSteps) {
                out.println();
            }
        } else if (step == firstStep + 1 || step == maxSteps || step % Math.max(1, maxSteps / 20) == 0) {
            out.println(text);
        }
        out.flush();
    }

    /** The bar's text for a state (pure, for tests). */
    static String line(long step, long maxSteps, double loss, double lr, double elapsedSeconds, long tokens,
            long stepsThisRun) {
        int filled = (int) (WIDTH * step / Math.max(1, maxSteps));
        StringBuilder bar = new StringBuilder();
        for (int i = 0; i < WIDTH; i++) {
            bar.append(i < filled ? '#' : '.');
        }
        double perStep = stepsThisRun > 0 ? elapsedSeconds / stepsThisRun : 0;
        long eta = Math.round(perStep * (maxSteps - step));
        double tps = elapsedSeconds > 0 ? tokens / elapsedSeconds : 0;
        return String.format(Locale.ROOT, "[%s] %d/%d loss %.4f lr %.2e %.0f tok/s eta %d:%02d", bar, step,
                maxSteps, loss, lr, tps, eta / 60, eta % 60);
    }
}
