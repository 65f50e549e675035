package org.peft4j.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** The static shape of a graph value: a list of {@link Dim}s (rank always known). */
public final class Shape {
    private final List<Dim> dims;

    private Shape(List<Dim> dims) {
        this.dims = Collections.unmodifiableList(new ArrayList<>(dims));
    }

    /**
     * A shape of the given dimensions.
     *
     * @param dims the dimensions, outermost first
     * @return the shape
     */
    public static Shape of(Dim... dims) {
        return new Shape(Arrays.asList(dims));
    }

    /**
     * A shape of the given dimensions.
     *
     * @param dims the dimensions, outermost first
     * @return the shape
     */
    public static Shape of(List<Dim> dims) {
        return new Shape(dims);
    }

    /** A fully fixed shape. */
    public static Shape of(long... sizes) {
        List<Dim> d = new ArrayList<>();
        for (long s : sizes) {
            d.add(Dim.of(s));
        }
        return new Shape(d);
    }

    /** The rank-0 shape. */
    public static Shape scalar() {
        return new Shape(List.of());
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return dims.size();
    }

    /** Dimension {@code i}; negative indexes count from the end. */
    public Dim dim(int i) {
        return dims.get(i < 0 ? dims.size() + i : i);
    }

    /**
     * The dimensions, outermost first.
     *
     * @return the dimensions
     */
    public List<Dim> dims() {
        return dims;
    }

    /**
     * Whether every dimension is a fixed number.
     *
     * @return true when no dimension is symbolic
     */
    public boolean isFullyFixed() {
        for (Dim d : dims) {
            if (!d.isFixed()) {
                return false;
            }
        }
        return true;
    }

    /** Fixed sizes; throws if any dimension is not fixed. */
    public long[] sizes() {
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = dims.get(i).size();
        }
        return s;
    }

    /** The number of elements if fully fixed, else -1. */
    public long numel() {
        if (!isFullyFixed()) {
            return -1;
        }
        long n = 1;
        for (Dim d : dims) {
            n *= d.size();
        }
        return n;
    }

    /** A copy with dimension {@code i} replaced. */
    public Shape with(int i, Dim d) {
        List<Dim> copy = new ArrayList<>(dims);
        copy.set(i < 0 ? dims.size() + i : i, d);
        return new Shape(copy);
    }

    /** Dimensions {@code from} (inclusive) to {@code to} (exclusive), negative indexes from the end. */
    public Shape sub(int from, int to) {
        int r = dims.size();
        int f = from < 0 ? r + from : from;
        int t = to < 0 ? r + to : to;
        return new Shape(dims.subList(f, t));
    }

    /** This shape followed by {@code more}. */
    public Shape append(Dim... more) {
        List<Dim> copy = new ArrayList<>(dims);
        copy.addAll(Arrays.asList(more));
        return new Shape(copy);
    }

    /**
     * The numpy-style broadcast of two shapes. Symbolic against 1 gives the symbol; differing symbols give unknown.
     *
     * @throws IllegalArgumentException when two fixed sizes differ and neither is 1
     */
    public static Shape broadcast(Shape a, Shape b) {
        int r = Math.max(a.rank(), b.rank());
        List<Dim> out = new ArrayList<>(r);
        for (int i = 0; i < r; i++) {
            int ia = a.rank() - r + i;
            int ib = b.rank() - r + i;
            Dim da = ia >= 0 ? a.dims.get(ia) : Dim.of(1);
            Dim db = ib >= 0 ? b.dims.get(ib) : Dim.of(1);
            out.add(broadcastDim(da, db, a, b));
        }
        return new Shape(out);
    }

    private static Dim broadcastDim(Dim da, Dim db, Shape a, Shape b) {
        if (da.sameAs(db)) {
            return da;
        }
        if (da.isFixed() && da.size() == 1) {
            return db;
        }
        if (db.isFixed() && db.size() == 1) {
            return da;
        }
        if (da.isFixed() && db.isFixed()) {
            throw new IllegalArgumentException("shapes " + a + " and " + b + " do not broadcast");
        }
        if (da.isFixed()) {
            return da;
        }
        if (db.isFixed()) {
            return db;
        }
        return Dim.unknown();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape && dims.equals(((Shape) o).dims);
    }

    @Override
    public int hashCode() {
        return dims.hashCode();
    }

    @Override
    public String toString() {
        return dims.toString();
    }
}
