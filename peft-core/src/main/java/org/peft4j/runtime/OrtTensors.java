package org.peft4j.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/** Conversions between peft4j tensors and ONNX Runtime tensors. */
final class OrtTensors {
    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("peft4j needs a little-endian platform (tensors are little-endian)");
        }
    }

    private OrtTensors() {
    }

    static OnnxJavaType javaType(DType t) {
        switch (t) {
            case F32: return OnnxJavaType.FLOAT;
            case F64: return OnnxJavaType.DOUBLE;
            case F16: return OnnxJavaType.FLOAT16;
            case BF16: return OnnxJavaType.BFLOAT16;
            case I64: return OnnxJavaType.INT64;
            case I32: return OnnxJavaType.INT32;
            case I16: return OnnxJavaType.INT16;
            case I8: return OnnxJavaType.INT8;
            case U8: return OnnxJavaType.UINT8;
            case BOOL: return OnnxJavaType.BOOL;
            default: throw new IllegalArgumentException("dtype " + t + " is not supported by ONNX Runtime's Java API");
        }
    }

    /**
     * An ORT tensor over the tensor's storage. Direct storage is used without a copy (the tensor must stay reachable
     * while the ORT tensor is used); heap storage is copied by ORT.
     */
    static OnnxTensor toOrt(OrtEnvironment env, Tensor t) throws OrtException {
        ByteBuffer b = t.data();
        return OnnxTensor.createTensor(env, b, t.shape(), javaType(t.dtype()));
    }

    /** Copies an ORT tensor into a new peft4j tensor. */
    static Tensor fromOrt(OnnxTensor t) {
        TensorInfo info = t.getInfo();
        DType dt = dtypeOf(info.type);
        ByteBuffer src = t.getByteBuffer();
        ByteBuffer dst = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        dst.put(src);
        dst.flip();
        return Tensor.wrap(dt, info.getShape(), dst);
    }

    static DType dtypeOf(OnnxJavaType t) {
        switch (t) {
            case FLOAT: return DType.F32;
            case DOUBLE: return DType.F64;
            case FLOAT16: return DType.F16;
            case BFLOAT16: return DType.BF16;
            case INT64: return DType.I64;
            case INT32: return DType.I32;
            case INT16: return DType.I16;
            case INT8: return DType.I8;
            case UINT8: return DType.U8;
            case BOOL: return DType.BOOL;
            default: throw new IllegalArgumentException("unsupported ONNX Runtime type " + t);
        }
    }
}
