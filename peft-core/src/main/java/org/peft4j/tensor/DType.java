package org.peft4j.tensor;

import java.util.Locale;

/**
 * Element types of tensors, with their safetensors name, byte width and ONNX {@code TensorProto.DataType} code.
 */
public enum DType {
    /** 64-bit float: safetensors {@code "F64"}, 8 bytes, ONNX data type 11. */
    F64("F64", 8, 11),
    /** 32-bit float: safetensors {@code "F32"}, 4 bytes, ONNX data type 1. */
    F32("F32", 4, 1),
    /** 16-bit IEEE float (half): safetensors {@code "F16"}, 2 bytes, ONNX data type 10. */
    F16("F16", 2, 10),
    /** bfloat16: safetensors {@code "BF16"}, 2 bytes, ONNX data type 16. */
    BF16("BF16", 2, 16),
    /** 64-bit signed integer: safetensors {@code "I64"}, 8 bytes, ONNX data type 7. */
    I64("I64", 8, 7),
    /** 32-bit signed integer: safetensors {@code "I32"}, 4 bytes, ONNX data type 6. */
    I32("I32", 4, 6),
    /** 16-bit signed integer: safetensors {@code "I16"}, 2 bytes, ONNX data type 5. */
    I16("I16", 2, 5),
    /** 8-bit signed integer: safetensors {@code "I8"}, 1 byte, ONNX data type 3. */
    I8("I8", 1, 3),
    /** 64-bit unsigned integer: safetensors {@code "U64"}, 8 bytes, ONNX data type 13. */
    U64("U64", 8, 13),
    /** 32-bit unsigned integer: safetensors {@code "U32"}, 4 bytes, ONNX data type 12. */
    U32("U32", 4, 12),
    /** 16-bit unsigned integer: safetensors {@code "U16"}, 2 bytes, ONNX data type 4. */
    U16("U16", 2, 4),
    /** 8-bit unsigned integer: safetensors {@code "U8"}, 1 byte, ONNX data type 2. */
    U8("U8", 1, 2),
    /** boolean (one byte): safetensors {@code "BOOL"}, 1 byte, ONNX data type 9. */
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
