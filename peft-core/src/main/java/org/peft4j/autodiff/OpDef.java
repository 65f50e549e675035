package org.peft4j.autodiff;

import java.util.Objects;
import java.util.Optional;
import org.peft4j.graph.ShapeInference;

/**
 * Everything peft4j knows about one op, in one place: its domain and type, how its output types follow from its
 * inputs ({@link ShapeInference}), its backward ({@link GradientRule}) and whether ONNX Runtime 1.29 has a CUDA
 * kernel for it (float32). Definitions live in the registry {@link Ops}; build one with {@link #builder}.
 *
 * <p>Each part but the name may be absent: an op without shape inference is typed by the graph builder method that
 * emits it (or the caller of {@code Graph.node} gives the types), and differentiating through an op without a
 * gradient rule fails with "no gradient rule for op ...".
 */
public final class OpDef {
    private final String domain;
    private final String opType;
    private final ShapeInference shapes;
    private final GradientRule gradient;
    private final boolean cudaKernel;

    private OpDef(Builder b) {
        this.domain = b.domain;
        this.opType = b.opType;
        this.shapes = b.shapes;
        this.gradient = b.gradient;
        this.cudaKernel = b.cudaKernel;
    }

    /**
     * Starts a definition.
     *
     * @param domain {@code ""} for standard ONNX, {@code "com.microsoft"} for ONNX Runtime contrib ops, or a module's
     *     own domain
     * @param opType the op type, e.g. {@code "MatMulBnb4"}
     */
    public static Builder builder(String domain, String opType) {
        return new Builder(domain, opType);
    }

    /** The op's domain ({@code ""} for standard ONNX). */
    public String domain() {
        return domain;
    }

    /**
     * The ONNX operator type this definition is for.
     *
     * @return the op type
     */
    public String opType() {
        return opType;
    }

    /** {@code opType} for the standard domain, {@code domain:opType} otherwise (the registry's key). */
    public String key() {
        return Ops.key(domain, opType);
    }

    /** How the op's outputs are typed, if the definition says. */
    public Optional<ShapeInference> shapeInference() {
        return Optional.ofNullable(shapes);
    }

    /** The op's backward, if it has one. */
    public Optional<GradientRule> gradient() {
        return Optional.ofNullable(gradient);
    }

    /**
     * Whether ONNX Runtime 1.29's CUDA execution provider has a float32 kernel for this op at the opset peft4j emits
     * (false also when that was not verified).
     */
    public boolean hasCudaKernel() {
        return cudaKernel;
    }

    /** Whether both define the same op with the same parts (the same rule and shape-inference objects). */
    boolean sameAs(OpDef o) {
        return domain.equals(o.domain) && opType.equals(o.opType) && shapes == o.shapes && gradient == o.gradient
                && cudaKernel == o.cudaKernel;
    }

    @Override
    public String toString() {
        return "OpDef[" + key() + (shapes != null ? ", shapes" : "") + (gradient != null ? ", gradient" : "")
                + (cudaKernel ? ", cuda" : "") + "]";
    }

    /** Builds an {@link OpDef}; every part but the name is optional. */
    public static final class Builder {
        private final String domain;
        private final String opType;
        private ShapeInference shapes;
        private GradientRule gradient;
        private boolean cudaKernel;

        private Builder(String domain, String opType) {
            this.domain = Objects.requireNonNull(domain, "domain");
            this.opType = Objects.requireNonNull(opType, "opType");
            if (opType.isEmpty()) {
                throw new IllegalArgumentException("empty op type");
            }
        }

        /** The op's shape inference (used by {@code Graph.node} when no output types are given). */
        public Builder shapes(ShapeInference shapes) {
            this.shapes = shapes;
            return this;
        }

        /** The op's gradient rule. */
        public Builder gradient(GradientRule gradient) {
            this.gradient = gradient;
            return this;
        }

        /** Whether ONNX Runtime 1.29 has a float32 CUDA kernel for the op (default false). */
        public Builder cudaKernel(boolean cudaKernel) {
            this.cudaKernel = cudaKernel;
            return this;
        }

        /**
         * Builds the definition.
         *
         * @return the operator definition
         */
        public OpDef build() {
            return new OpDef(this);
        }
    }
}
