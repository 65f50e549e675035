package org.peft4j.tensor;

import java.util.Locale;

/**
 * Element types of tensors, with their safetensors name, byte width and ONNX {@code TensorProto.DataType} code.
 */
public enum DType {
    F64("F64", 8, 11),
    F32("F32", 4, 1),
    F16("F16", 2, 10),
    BF16("BF16", 2, 16),
    I64("I64", 8, 7),
    I32("I32", 4, 6),
    I16("I16", 2, 5),
    I8("I8", 1, 3),
    U64("U64", 8, 13),
    U32("U32", 4, 12),
    U16("U16", 2, 4),
    U8("U8", 1, 2),
    BOOL("BOOL", 1, 9);

    private final String safetensorsName;
    private final int byteSize;
    private final int onnxCode;

    DType(String safetensorsName, int byteSize, int onnxCode) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.onnxCode = onnxCode;
    }

    /** The dtype string used in safetensors headers, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The ONNX {@code TensorProto.DataType} enum value. */
    public int onnxCode() {
        return onnxCode;
    }

    /** Whether this is a floating-point type. */
    public boolean isFloating() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /**
     * The dtype for a safetensors dtype string.
     *
     * @throws IllegalArgumentException if the name is not one peft4j supports
     */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown dtype '" + name + "', expected one of " + supportedNames());
    }

    /** The dtype for an ONNX data type code. */
    public static DType fromOnnx(int code) {
        for (DType t : values()) {
            if (t.onnxCode == code) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported ONNX data type " + code);
    }

    /** The dtype for a torch dtype string as found in config.json ({@code "float32"}, {@code "bfloat16"}, ...). */
    public static DType fromTorchName(String name) {
        switch (name.toLowerCase(Locale.ROOT).replace("torch.", "")) {
            case "float32": case "float": return F32;
            case "float16": case "half": return F16;
            case "bfloat16": return BF16;
            case "float64": case "double": return F64;
            default: throw new IllegalArgumentException("unsupported torch dtype '" + name + "'");
        }
    }

    static String supportedNames() {
        StringBuilder sb = new StringBuilder();
        for (DType t : values()) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(t.safetensorsName);
        }
        return sb.toString();
    }
}
