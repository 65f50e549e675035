package org.peft4j.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.HalfFloats;
import org.peft4j.tensor.Tensor;

/** The tensors of {@code reference_tensors()} in interop/safetensors_fixtures.py, built independently in Java. */
final class ReferenceTensors {
    private ReferenceTensors() {
    }

    static final String[] ODD_NAMES = {"a.weight", "B", "b", "\u00e9", "\ue000", "\uD83D\uDE00",
        "quote\"back\\slash", "ctl\n\t\u0001\u007f", "</script>&'=", "z/y.z"};

    static Map<String, Tensor> build() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("weight", Tensor.of(new float[] {-1f, -0.5f, 0f, 0.5f, 1f, 1.5f}, 2, 3));
        t.put("bias", make(DType.F16, new long[] {3}, b -> {
            for (float f : new float[] {0.5f, -2f, 3.25f}) {
                b.putShort(HalfFloats.floatToF16(f));
            }
        }));
        t.put("scale", make(DType.BF16, new long[] {}, b -> b.putShort(HalfFloats.floatToBf16(0.75f))));
        t.put("ids", Tensor.of(new long[] {0, 1, -1, 1L << 40}, 4));
        t.put("mask", make(DType.BOOL, new long[] {5}, b -> b.put(new byte[] {1, 0, 1, 1, 0})));
        t.put("empty", Tensor.zeros(DType.F32, 0, 3));
        t.put("f64", Tensor.of(new double[] {0.1, -1e300}, 2));
        t.put("i32", Tensor.of(new int[] {-7, 0, 123456}, 3));
        t.put("i16", make(DType.I16, new long[] {2}, b -> b.putShort((short) -300).putShort((short) 300)));
        t.put("i8", make(DType.I8, new long[] {2}, b -> b.put((byte) -5).put((byte) 5)));
        t.put("u8", make(DType.U8, new long[] {3}, b -> b.put((byte) 0).put((byte) 200).put((byte) 255)));
        t.put("u16", make(DType.U16, new long[] {2}, b -> b.putShort((short) 0).putShort((short) 65535)));
        t.put("u32", make(DType.U32, new long[] {1}, b -> b.putInt((int) 4000000000L)));
        t.put("u64", make(DType.U64, new long[] {1}, b -> b.putLong(-1L)));
        for (int i = 0; i < ODD_NAMES.length; i++) {
            t.put(ODD_NAMES[i], Tensor.of(new float[] {i}, 1));
        }
        return t;
    }

    static Tensor make(DType dtype, long[] shape, Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate((int) (Tensor.numel(shape) * dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        b.flip();
        return Tensor.wrap(dtype, shape, b);
    }
}
