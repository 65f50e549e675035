package org.peft4j.qlora;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.peft4j.tensor.Tensor;

/** The state-dict hooks of {@link Linear4bit}: saving its quant state, loading a float or packed weight. */
final class Bnb4bitLoading {
    private Bnb4bitLoading() {
    }

    static Map<String, Tensor> extraState(Linear4bit layer) {
        QuantState st = layer.quantState();
        if (st == null) {
            return Map.of();
        }
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : Bnb4bitStateDict.asDict(st).entrySet()) {
            out.put("weight." + e.getKey(), e.getValue());
        }
        return out;
    }

    static Set<String> load(Linear4bit layer, String prefix, Map<String, Tensor> entries) {
        Tensor w = entries.get("weight");
        if (w == null && !Bnb4bitStateDict.isPacked(entries)) {
            return Set.of();
        }
        if (w != null && w.dtype().isFloating() && !Bnb4bitStateDict.isPacked(entries)) {
            long[] expected = {layer.outFeatures(), layer.inFeatures()};
            if (!Arrays.equals(w.shape(), expected)) {
                throw new IllegalArgumentException(prefix + "weight: expected a float weight " + Arrays.toString(
                        expected) + " to quantize, or a packed 4-bit weight U8 [" + Linear4bit.packedLength(
                        layer.inFeatures() * layer.outFeatures()) + ", 1] with its quant state, got " + w.dtype()
                        + " " + Arrays.toString(w.shape()));
            }
            quantizeInto(layer, prefix + "weight", w);
            return Set.of("weight");
        }
        Bnb4bitStateDict.Read r = Bnb4bitStateDict.read(prefix, entries, layer.outFeatures(), layer.inFeatures());
        try {
            layer.setQuantized(r.packed(), r.state());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(prefix + "weight: " + e.getMessage(), e);
        }
        return r.consumed();
    }

    /**
     * Quantizes a float weight (a view of the checkpoint, any floating dtype) into the layer: converted to the layer's
     * dtype first, as transformers loads the tensor in the model's dtype before bitsandbytes quantizes it.
     */
    static void quantizeInto(Linear4bit layer, String name, Tensor w) {
        Tensor x = w.dtype() == layer.dtype() ? w : w.to(layer.dtype());
        Packed4bit p = Bnb4bit.quantize(name, x, layer.quantType(), layer.blocksize(), layer.compressStatistics());
        layer.setQuantized(p.packed(), p.state());
    }
}
