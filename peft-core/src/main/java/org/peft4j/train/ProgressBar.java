package org.peft4j.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line console progress bar: steps, loss, learning rate, tokens per second and time left, redrawn in place.
 */
final class ProgressBar implements TrainerCallback {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private final long startNanos = System.nanoTime();
    private long tokens;
    private long firstStep = -1;

    ProgressBar(PrintStream out) {
        this.out = out;
    }

    void addTokens(long n) {
        tokens += n;
    }

    @Override
    public void onStepEnd(long step, long maxSteps, double loss, double learningRate) {
        if (firstStep < 0) {
            firstStep = step - 1;
        }
        out.print("\r" + line(step, maxSteps, loss, learningRate, (System.nanoTime() - startNanos) / 1e9, tokens,
                step - firstStep));
        if (step == maxSteps) {
            out.println();
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
