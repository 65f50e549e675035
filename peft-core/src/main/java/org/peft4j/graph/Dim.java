package org.peft4j.graph;

import java.util.Objects;

/**
 * One dimension of a value's shape: a fixed size, a named symbolic size ({@code "batch"}, {@code "seq"}) or unknown.
 */
public final class Dim {
    private static final Dim UNKNOWN = new Dim(-1, null);

    private final long size;
    private final String symbol;

    private Dim(long size, String symbol) {
        this.size = size;
        this.symbol = symbol;
    }

    /** A fixed dimension. */
    public static Dim of(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative dimension " + size);
        }
        return new Dim(size, null);
    }

    /** A named symbolic dimension; equal names denote equal sizes within one graph. */
    public static Dim of(String symbol) {
        return new Dim(-1, Objects.requireNonNull(symbol, "symbol"));
    }

    /** A dimension whose size is not known when the graph is built. */
    public static Dim unknown() {
        return UNKNOWN;
    }

    /**
     * Whether this dimension is a known number.
     *
     * @return true when fixed
     */
    public boolean isFixed() {
        return size >= 0;
    }

    /**
     * Whether this dimension is a named symbol (such as {@code batch}).
     *
     * @return true when symbolic
     */
    public boolean isSymbolic() {
        return symbol != null;
    }

    /** The fixed size; throws if the dimension is not fixed. */
    public long size() {
        if (size < 0) {
            throw new IllegalStateException("dimension " + this + " is not fixed");
        }
        return size;
    }

    /** The symbol, or null. */
    public String symbol() {
        return symbol;
    }

    /** Whether both are fixed and equal, or both the same symbol. */
    public boolean sameAs(Dim o) {
        if (isFixed() && o.isFixed()) {
            return size == o.size;
        }
        return symbol != null && symbol.equals(o.symbol);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Dim)) {
            return false;
        }
        Dim d = (Dim) o;
        return size == d.size && Objects.equals(symbol, d.symbol);
    }

    @Override
    public int hashCode() {
        return Objects.hash(size, symbol);
    }

    @Override
    public String toString() {
        return isFixed() ? Long.toString(size) : symbol != null ? symbol : "?";
    }
}
