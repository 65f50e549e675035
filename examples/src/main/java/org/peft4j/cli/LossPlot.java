package org.peft4j.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.peft4j.util.AtomicFiles;

/**
 * The loss curve of a training run: training loss per logged step and evaluation loss, read from the trainer's
 * JSONL log ({@code trainer_log.jsonl}) and drawn with XChart into a PNG (headless AWT, no display needed).
 */
public final class LossPlot {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** Width and height of the image in pixels. */
    static final int WIDTH = 900;
    static final int HEIGHT = 540;

    /**
     * The curves: step to training loss and step to evaluation loss, ascending by step. A step logged twice (a run
     * resumed from an earlier checkpoint appends to the log) keeps its last value.
     */
    public record Curves(TreeMap<Long, Double> train, TreeMap<Long, Double> eval) {
        /** True when there is nothing to draw. */
        public boolean isEmpty() {
            return train.isEmpty() && eval.isEmpty();
        }
    }

    private LossPlot() {
    }

    /** Reads {@code {"step": ..., "loss": ...}} and {@code {"step": ..., "eval_loss": ...}} lines of the log. */
    public static Curves read(Path logFile) throws IOException {
        TreeMap<Long, Double> train = new TreeMap<>();
        TreeMap<Long, Double> eval = new TreeMap<>();
        List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            JsonObject o;
            try {
                JsonElement e = JsonParser.parseString(line);
                o = e.getAsJsonObject();
            } catch (RuntimeException e) {
                throw new CliException(logFile + ":" + (i + 1) + ": not a JSON object: " + e.getMessage(), e);
            }
            if (!o.has("step")) {
                continue;
            }
            long step = o.get("step").getAsLong();
            if (o.has("loss")) {
                train.put(step, o.get("loss").getAsDouble());
            }
            if (o.has("eval_loss")) {
                eval.put(step, o.get("eval_loss").getAsDouble());
            }
        }
        return new Curves(train, eval);
    }

    /** Draws the curves and writes them to {@code png} (replacing it atomically). */
    public static void write(Curves curves, Path png, String title) throws IOException {
        if (curves.isEmpty()) {
            throw new IllegalArgumentException("no loss values to plot");
        }
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("step")
                .yAxisTitle("loss").build();
        Styler styler = chart.getStyler();
        styler.setLegendPosition(Styler.LegendPosition.InsideNE);
        styler.setMarkerSize(5);
        styler.setChartBackgroundColor(java.awt.Color.WHITE);
        if (!curves.train().isEmpty()) {
            XYSeries s = chart.addSeries("training loss", xs(curves.train()), ys(curves.train()));
            s.setMarker(curves.train().size() > 60 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
        }
        if (!curves.eval().isEmpty()) {
            XYSeries s = chart.addSeries("eval loss", xs(curves.eval()), ys(curves.eval()));
            s.setMarker(SeriesMarkers.DIAMOND);
        }
        byte[] bytes = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        Files.createDirectories(png.toAbsolutePath().getParent());
        AtomicFiles.write(png, ByteBuffer.wrap(bytes));
    }

    private static List<Long> xs(TreeMap<Long, Double> m) {
        return new ArrayList<>(m.keySet());
    }

    private static List<Double> ys(TreeMap<Long, Double> m) {
        List<Double> out = new ArrayList<>(m.size());
        for (Map.Entry<Long, Double> e : m.entrySet()) {
            out.add(e.getValue());
        }
        return out;
    }
}
