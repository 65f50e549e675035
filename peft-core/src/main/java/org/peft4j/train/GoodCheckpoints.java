package org.peft4j.train;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Tracks the newest checkpoint known to be good, one whose weights gave a finite training loss (the loss of the
 * step after it), and keeps it out of {@code save_total_limit} rotation until a newer one is known good. A
 * checkpoint saved just before a NaN holds the weights that produced it; without this the rotation at its save
 * could delete the last good one.
 */
final class GoodCheckpoints {
    private final Path outputDir;
    private final Integer limit;
    private Path good;
    private Path unverified;
    private boolean unverifiedSavedHere;

    /** @param resumedFrom the checkpoint the run continues from (its first step checks it), or null */
    GoodCheckpoints(Path outputDir, Integer limit, Path resumedFrom) {
        this.outputDir = outputDir;
        this.limit = limit;
        this.unverified = resumedFrom;
    }

    /** After the checkpoint {@code dir} is written: rotates, sparing the newest and the newest good one. */
    void saved(Path dir) throws IOException {
        unverified = dir;
        unverifiedSavedHere = true;
        if (limit != null) {
            Checkpoint.rotate(outputDir, limit, good);
        }
    }

    /** After a step with a finite loss: the newest checkpoint gave it, so it is good and the older ones may go. */
    void finiteLoss() throws IOException {
        if (unverified == null) {
            return;
        }
        good = unverified;
        unverified = null;
        if (unverifiedSavedHere && limit != null) {
            Checkpoint.rotate(outputDir, limit);
        }
    }

    /** When training ends normally: the last checkpoint is the run's result, rotation needs spare nothing else. */
    void end() throws IOException {
        if (unverified != null && unverifiedSavedHere && limit != null) {
            Checkpoint.rotate(outputDir, limit);
        }
    }

    /** The newest good checkpoint, or null. */
    Path good() {
        return good;
    }

    /** What an error that stops training says about the checkpoints to go back to. */
    String advice() {
        String bad = unverified == null ? "" : " (" + unverified + " holds the weights that gave this loss)";
        return good == null ? "; no checkpoint of this run gave a finite loss" + bad
                : "; the newest checkpoint whose weights gave a finite loss is " + good + bad;
    }
}
