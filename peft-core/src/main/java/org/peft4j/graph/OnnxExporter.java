package org.peft4j.graph;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.peft4j.tensor.Tensor;

/**
 * Writes a {@link Graph} as an ONNX {@code ModelProto} (opset {@value Graph#OPSET}, IR {@value Graph#IR_VERSION}).
 *
 * <p>Parameters selected as inputs become graph inputs; the others become initializers that carry only their dims
 * (no data), to be supplied to ONNX Runtime with {@code SessionOptions.addInitializer}, so the protobuf stays small
 * whatever the model size. Constants are written with their bytes.
 */
public final class OnnxExporter {
    private OnnxExporter() {
    }

    /**
     * Exports the graph.
     *
     * @param asInput which parameters become graph inputs (the rest become data-less initializer placeholders)
     */
    public static ModelProto export(Graph g, Predicate<Parameter> asInput) {
        GraphProto.Builder gb = GraphProto.newBuilder().setName("peft4j");
        for (Value v : g.inputs()) {
            gb.addInput(valueInfo(v));
        }
        for (Value p : g.parameters()) {
            if (asInput.test(p.parameter())) {
                gb.addInput(valueInfo(p));
            } else {
                gb.addInitializer(placeholder(p));
            }
        }
        for (Value c : g.constants()) {
            gb.addInitializer(tensorProto(c.name(), c.constant()));
        }
        Set<String> domains = new LinkedHashSet<>();
        for (Node n : g.nodes()) {
            gb.addNode(nodeProto(n));
            if (!n.domain().isEmpty()) {
                domains.add(n.domain());
            }
        }
        for (Value v : g.outputs()) {
            gb.addOutput(valueInfo(v));
        }
        ModelProto.Builder mb = ModelProto.newBuilder()
                .setIrVersion(Graph.IR_VERSION)
                .setProducerName("peft4j")
                .setGraph(gb)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(Graph.OPSET));
        for (String d : domains) {
            mb.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(d).setVersion(1));
        }
        return mb.build();
    }

    /** Name of the (sparse) file that initializer placeholders point at; see {@link #placeholder(Value)}. */
    public static final String PLACEHOLDER_FILE = "peft4j-placeholder.bin";

    /**
     * An initializer that declares a frozen parameter's name, dtype and dims but carries no bytes: it refers to
     * {@link #PLACEHOLDER_FILE} as external data, and the session replaces it with the real buffer
     * ({@code SessionOptions.addInitializer}) before the file would ever be read. ORT 1.29 rejects a data-less
     * embedded initializer larger than 127 bytes at load, so the external form is what keeps the protobuf small.
     */
    static TensorProto placeholder(Value p) {
        TensorProto.Builder tb = TensorProto.newBuilder().setName(p.name()).setDataType(p.dtype().onnxCode());
        for (long d : p.parameter().shape()) {
            tb.addDims(d);
        }
        long bytes = p.parameter().numel() * p.dtype().byteSize();
        tb.setDataLocation(TensorProto.DataLocation.EXTERNAL);
        tb.addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(PLACEHOLDER_FILE));
        tb.addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue("0"));
        tb.addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(bytes)));
        return tb.build();
    }

    /** A tensor with its data as {@code raw_data} (little-endian). */
    public static TensorProto tensorProto(String name, Tensor t) {
        TensorProto.Builder tb = TensorProto.newBuilder().setName(name).setDataType(t.dtype().onnxCode());
        for (long d : t.shape()) {
            tb.addDims(d);
        }
        tb.setRawData(ByteString.copyFrom(t.data()));
        return tb.build();
    }

    static ValueInfoProto valueInfo(Value v) {
        TensorShapeProto.Builder sb = TensorShapeProto.newBuilder();
        for (Dim d : v.shape().dims()) {
            TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
            if (d.isFixed()) {
                db.setDimValue(d.size());
            } else if (d.isSymbolic()) {
                db.setDimParam(d.symbol());
            }
            sb.addDim(db);
        }
        TypeProto.Tensor.Builder tt = TypeProto.Tensor.newBuilder().setElemType(v.dtype().onnxCode()).setShape(sb);
        return ValueInfoProto.newBuilder().setName(v.name()).setType(TypeProto.newBuilder().setTensorType(tt)).build();
    }

    static NodeProto nodeProto(Node n) {
        NodeProto.Builder nb = NodeProto.newBuilder().setName(n.name()).setOpType(n.opType());
        if (!n.domain().isEmpty()) {
            nb.setDomain(n.domain());
        }
        for (Value v : n.inputs()) {
            nb.addInput(v == null ? "" : v.name());
        }
        for (Value v : n.outputs()) {
            nb.addOutput(v.name());
        }
        for (Map.Entry<String, Object> e : n.attributes().entrySet()) {
            nb.addAttribute(attribute(e.getKey(), e.getValue()));
        }
        return nb.build();
    }

    static AttributeProto attribute(String key, Object v) {
        AttributeProto.Builder ab = AttributeProto.newBuilder().setName(key);
        if (v instanceof Long || v instanceof Integer) {
            ab.setType(AttributeProto.AttributeType.INT).setI(((Number) v).longValue());
        } else if (v instanceof Double || v instanceof Float) {
            ab.setType(AttributeProto.AttributeType.FLOAT).setF(((Number) v).floatValue());
        } else if (v instanceof String) {
            ab.setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8((String) v));
        } else if (v instanceof long[]) {
            ab.setType(AttributeProto.AttributeType.INTS);
            for (long x : (long[]) v) {
                ab.addInts(x);
            }
        } else if (v instanceof double[]) {
            ab.setType(AttributeProto.AttributeType.FLOATS);
            for (double x : (double[]) v) {
                ab.addFloats((float) x);
            }
        } else if (v instanceof Tensor) {
            ab.setType(AttributeProto.AttributeType.TENSOR).setT(tensorProto("", (Tensor) v));
        } else {
            throw new IllegalArgumentException("unsupported attribute " + key + " of " + v.getClass());
        }
        return ab.build();
    }
}
