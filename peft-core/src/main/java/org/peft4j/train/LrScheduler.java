package org.peft4j.train;

import java.util.Locale;

/**
 * Learning-rate schedules as transformers' {@code get_scheduler} defines them: a multiplier of the base rate for
 * each optimizer step, with linear warmup.
 */
public final class LrScheduler {
    /** The schedule types ({@code lr_scheduler_type}). */
    public enum Type {
        /** {@code linear}: warmup, then linear decay to 0 (transformers' default). */
        LINEAR,
        /** {@code cosine}: warmup, then half a cosine wave down to 0. */
        COSINE,
        /** {@code constant}: the learning rate throughout, no warmup. */
        CONSTANT,
        /** {@code constant_with_warmup}: warmup, then constant. */
        CONSTANT_WITH_WARMUP;

        /** Parses transformers' names: linear, cosine, constant, constant_with_warmup. */
        public static Type parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("lr_scheduler_type '" + s
                        + "' is not supported, expected linear, cosine, constant or constant_with_warmup");
            }
        }
    }

    private final Type type;
    private final long warmupSteps;
    private final long totalSteps;

    /**
     * A schedule of {@code totalSteps} optimizer steps, as transformers' {@code get_scheduler}.
     *
     * @param type the schedule
     * @param warmupSteps steps of linear warmup from 0
     * @param totalSteps all optimizer steps of the run
     */
    public LrScheduler(Type type, long warmupSteps, long totalSteps) {
        this.type = type;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
    }

    /** The multiplier for optimizer step {@code step} (0-based: the first update uses step 0). */
    public double factor(long step) {
        if (type == Type.CONSTANT) {
            return 1.0;
        }
        if (step < warmupSteps) {
            return (double) step / Math.max(1, warmupSteps);
        }
        switch (type) {
            case CONSTANT_WITH_WARMUP:
                return 1.0;
            case LINEAR:
                return Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            case COSINE: {
                double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 2.0 * 0.5 * progress)));
            }
            default:
                throw new AssertionError(type);
        }
    }

    /** {@code warmup_steps} if set, else {@code ceil(total * warmup_ratio)}, as transformers computes it. */
    public static long warmupSteps(long warmupSteps, double warmupRatio, long totalSteps) {
        return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(totalSteps * warmupRatio);
    }
}
