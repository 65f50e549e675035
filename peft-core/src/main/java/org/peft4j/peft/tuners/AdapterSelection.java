package org.peft4j.peft.tuners;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.graph.Dim;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * One adapter per batch row for a single forward (PEFT's per-call {@code adapter_names}, mixed-batch inference).
 * While a forward is emitted inside {@link #enter()}, tuner layers that support it replace the active adapters by
 * a per-row selection: for each adapter named here, the layer's delta is multiplied by a float32 [batch] 0/1 graph
 * input {@code adapter_mask.<name>} ({@link #mask}), and {@link #feeds} gives the values to feed. The selection is
 * bound to the calling thread only, so concurrent calls with different selections never see each other's; a graph
 * emitted outside a selection is unchanged (no extra inputs or nodes).
 */
public final class AdapterSelection {
    /** The name that selects no adapter for a row ({@code "__base__"}). */
    public static final String BASE = "__base__";
    private static final ThreadLocal<AdapterSelection> CURRENT = new ThreadLocal<>();

    private final List<String> names;
    private final Map<Graph, Map<String, Value>> masks = new IdentityHashMap<>();

    /** A selection of {@code names.get(i)} for row {@code i} ({@link #BASE} for none). */
    public AdapterSelection(List<String> names) {
        this.names = List.copyOf(names);
    }

    /** The selection the calling thread is emitting a forward under, or null. */
    public static AdapterSelection current() {
        return CURRENT.get();
    }

    /** The adapter of each row. */
    public List<String> adapterNames() {
        return names;
    }

    /** The distinct adapters named (not {@link #BASE}), sorted: the order layers emit them in. */
    public List<String> uniqueAdapters() {
        TreeSet<String> out = new TreeSet<>(names);
        out.remove(BASE);
        return new ArrayList<>(out);
    }

    /**
     * The [batch, 1, 1] float32 mask of the rows that use {@code adapter} in {@code g} (1 for those rows, 0 else),
     * declared as graph input {@code adapter_mask.<adapter>} on first use.
     */
    public synchronized Value mask(Graph g, String adapter) {
        return masks.computeIfAbsent(g, k -> new LinkedHashMap<>()).computeIfAbsent(adapter,
                a -> g.unsqueeze(g.input("adapter_mask." + a, DType.F32, Dim.of("batch")), 1, 2));
    }

    /** The mask values for the inputs {@link #mask} declared in {@code g}. */
    public synchronized Map<String, Tensor> feeds(Graph g) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String a : masks.getOrDefault(g, Map.of()).keySet()) {
            float[] m = new float[names.size()];
            for (int i = 0; i < m.length; i++) {
                m[i] = names.get(i).equals(a) ? 1f : 0f;
            }
            out.put("adapter_mask." + a, Tensor.of(m, m.length));
        }
        return out;
    }

    /** Binds this selection to the calling thread until the returned scope is closed. */
    public Scope enter() {
        AdapterSelection previous = CURRENT.get();
        CURRENT.set(this);
        return () -> {
            if (previous == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(previous);
            }
        };
    }

    /** The binding of a selection to a thread; closing it restores the previous one. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }
}
