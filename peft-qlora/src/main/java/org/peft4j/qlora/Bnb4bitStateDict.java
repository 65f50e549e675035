package org.peft4j.qlora;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.internal.StrictGson;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A 4-bit weight's entries in a state dict, as bitsandbytes writes and reads them ({@code Linear4bit
 * ._save_to_state_dict}, {@code QuantState.as_dict(packed=True)} / {@code QuantState.from_dict}): next to the packed
 * {@code weight} (uint8 [(numel + 1) / 2, 1]), {@code weight.absmax}, {@code weight.quant_map}, with double
 * quantization {@code weight.nested_absmax} and {@code weight.nested_quant_map}, and
 * {@code weight.quant_state.bitsandbytes__nf4} (or {@code __fp4}): the non-tensor items as UTF-8 JSON bytes (uint8 [n]),
 * written as Python's {@code json.dumps} writes them.
 */
public final class Bnb4bitStateDict {
    /** The blocksizes bitsandbytes allows. */
    public static final List<Integer> BLOCKSIZES = List.of(32, 64, 128, 256, 512, 1024, 2048, 4096);
    /** The prefix of the packed JSON entry's name (after {@code weight.}); the quant type follows. */
    public static final String QUANT_STATE_KEY = "quant_state.bitsandbytes__";

    private Bnb4bitStateDict() {
    }

    // ------------------------------------------------------------------ writing

    /**
     * {@code QuantState.as_dict(packed=True)}: the entries bitsandbytes saves after {@code weight}, named relative to
     * the weight ({@code absmax}, {@code quant_map}, [{@code nested_absmax}, {@code nested_quant_map}],
     * {@code quant_state.bitsandbytes__<type>}), in bitsandbytes' order.
     */
    public static LinkedHashMap<String, Tensor> asDict(QuantState st) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        out.put("absmax", st.absmax().reshape(st.numBlocks()));
        out.put("quant_map", st.code().reshape(16));
        if (st.isNested()) {
            out.put("nested_absmax", st.nested().absmax().reshape(st.nested().absmax().numel()));
            out.put("nested_quant_map", st.nested().code().reshape(st.nested().code().numel()));
        }
        byte[] json = quantStateJson(st).getBytes(StandardCharsets.UTF_8);
        out.put(QUANT_STATE_KEY + st.quantType().bnbName(), Tensor.wrap(DType.U8, new long[] {json.length},
                ByteBuffer.wrap(json)));
        return out;
    }

    /**
     * The JSON of the non-tensor items, byte for byte as bitsandbytes' {@code pack_dict_to_tensor} writes it
     * ({@code json.dumps}: separators {@code ", "} and {@code ": "}, insertion order, {@code nested_offset} as Python's
     * {@code repr} of the float32 offset widened to a double), e.g. {@code {"quant_type": "nf4", "blocksize": 64,
     * "dtype": "float32", "shape": [64, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset":
     * 0.05374833941459656}}.
     */
    public static String quantStateJson(QuantState st) {
        StringBuilder sb = new StringBuilder();
        sb.append("{\"quant_type\": \"").append(st.quantType().bnbName()).append("\", \"blocksize\": ")
                .append(st.blocksize()).append(", \"dtype\": \"").append(BitsAndBytesConfig.torchName(st.dtype()))
                .append("\", \"shape\": [");
        long[] shape = st.shape();
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        sb.append(']');
        if (st.isNested()) {
            sb.append(", \"nested_blocksize\": ").append(st.nested().blocksize())
                    .append(", \"nested_dtype\": \"float32\", \"nested_offset\": ")
                    .append(pythonFloatRepr(st.nested().offset()));
        }
        return sb.append('}').toString();
    }

    /**
     * Python's {@code repr(float(x))} / {@code json.dumps(x)}: the shortest decimal that reads back as {@code x},
     * in fixed notation for exponents -4 to 15 and otherwise as {@code 1.5e-07} / {@code 1e+16}; {@code NaN},
     * {@code Infinity}, {@code -Infinity} as json.dumps writes them.
     */
    public static String pythonFloatRepr(double x) {
        if (Double.isNaN(x)) {
            return "NaN";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "Infinity" : "-Infinity";
        }
        if (x == 0) {
            return (1 / x < 0) ? "-0.0" : "0.0";
        }
        BigDecimal exact = new BigDecimal(x);
        BigDecimal shortest = null;
        for (int p = 1; p <= 17; p++) {
            BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
            if (r.doubleValue() == x) {
                shortest = r;
                break;
            }
        }
        BigDecimal s = shortest.stripTrailingZeros();
        String digits = s.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - s.scale(); // decimal exponent of the first digit
        String sign = x < 0 ? "-" : "";
        if (exp >= -5 + 1 && exp < 16) {
            String fixed = s.abs().toPlainString();
            return sign + (fixed.contains(".") ? fixed : fixed + ".0");
        }
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }

    // ------------------------------------------------------------------ reading

    /**
     * A packed weight with its state, and the entries it was read from.
     *
     * @param packed uint8 [(numel + 1) / 2, 1]
     * @param state the quant state
     * @param consumed the entry names used, relative to the module ({@code weight}, {@code weight.absmax}, ...)
     */
    public record Read(Tensor packed, QuantState state, Set<String> consumed) {
    }

    /**
     * Whether the module's entries hold a 4-bit weight in bitsandbytes' layout (a uint8 {@code weight} or any
     * {@code weight.quant_state.*} / {@code weight.absmax} entry).
     */
    public static boolean isPacked(Map<String, Tensor> entries) {
        Tensor w = entries.get("weight");
        if (w != null && w.dtype() == DType.U8) {
            return true;
        }
        for (String k : entries.keySet()) {
            if (k.startsWith("weight.")) {
                return true;
            }
        }
        return false;
    }

    /**
     * {@code QuantState.from_dict} for one layer: reads {@code weight} and its {@code weight.*} entries, checking each
     * against the layer's [out, in] shape and what bitsandbytes writes.
     *
     * @param prefix the layer's dotted name followed by a dot, for messages
     * @param entries the layer's entries, named relative to it
     * @throws IllegalArgumentException naming the key and what was expected: a missing or extra entry, more than one
     *     or no {@code quant_state.bitsandbytes__*} entry, an unknown quant type, JSON that is malformed or lacks a
     *     field, a blocksize bitsandbytes does not allow, a shape other than [out, in], a tensor of the wrong dtype or
     *     size
     */
    public static Read read(String prefix, Map<String, Tensor> entries, long outFeatures, long inFeatures) {
        String w = prefix + "weight";
        List<String> qsKeys = new ArrayList<>();
        for (String k : entries.keySet()) {
            if (k.startsWith("weight." + "quant_state")) {
                qsKeys.add(k);
            }
        }
        if (qsKeys.size() != 1) {
            throw new IllegalArgumentException(w + ": expected exactly one `" + w + ".quant_state.bitsandbytes__nf4` or "
                    + "`" + w + ".quant_state.bitsandbytes__fp4` entry (bitsandbytes' packed quant state), found "
                    + prefixed(prefix, qsKeys));
        }
        String qsKey = qsKeys.get(0);
        String pre = "weight." + QUANT_STATE_KEY;
        String typeName = qsKey.startsWith(pre) ? qsKey.substring(pre.length()) : "";
        if (!(typeName.equals("nf4") || typeName.equals("fp4"))) {
            throw new IllegalArgumentException(prefix + qsKey + ": unknown quant state entry; expected "
                    + "quant_state.bitsandbytes__nf4 or quant_state.bitsandbytes__fp4");
        }
        JsonObject js = parseJson(prefix + qsKey, entries.get(qsKey));
        String where = prefix + qsKey;
        String qt = jsonString(js, "quant_type", where);
        if (!qt.equals(typeName)) {
            throw new IllegalArgumentException(where + ": quant_type '" + qt + "' does not match the entry's name ("
                    + typeName + ")");
        }
        QuantType type = QuantType.fromBnbName(qt);
        int blocksize = (int) jsonLong(js, "blocksize", where);
        if (!BLOCKSIZES.contains(blocksize)) {
            throw new IllegalArgumentException(where + ": blocksize " + blocksize + " is not allowed by bitsandbytes; "
                    + "expected one of " + BLOCKSIZES);
        }
        DType dtype = jsonDtype(js, "dtype", where);
        JsonElement shapeEl = js.get("shape");
        long[] shape;
        if (shapeEl == null || !shapeEl.isJsonArray() || shapeEl.getAsJsonArray().size() != 2) {
            throw new IllegalArgumentException(where + ": shape: expected [" + outFeatures + ", " + inFeatures
                    + "], got " + shapeEl);
        }
        JsonArray sa = shapeEl.getAsJsonArray();
        shape = new long[] {asLong(sa.get(0), "shape", where), asLong(sa.get(1), "shape", where)};
        if (shape[0] != outFeatures || shape[1] != inFeatures) {
            throw new IllegalArgumentException(where + ": shape: expected [" + outFeatures + ", " + inFeatures
                    + "] (the layer's [out_features, in_features]), got " + Arrays.toString(shape));
        }
        long numel = outFeatures * inFeatures;
        long nblocks = (numel + blocksize - 1) / blocksize;
        Set<String> consumed = new LinkedHashSet<>();
        consumed.add("weight");
        consumed.add(qsKey);
        Tensor packed = require(entries, "weight", prefix, DType.U8, Linear4bit.packedLength(numel),
                "the packed 4-bit weight of " + numel + " elements, shape [" + Linear4bit.packedLength(numel) + ", 1]");
        if (!(packed.rank() == 1 || (packed.rank() == 2 && packed.dim(1) == 1))) {
            throw new IllegalArgumentException(w + ": expected U8 [" + Linear4bit.packedLength(numel) + ", 1], got "
                    + describe(packed));
        }
        boolean nested = js.has("nested_offset") || js.has("nested_blocksize") || entries.containsKey(
                "weight.nested_absmax") || entries.containsKey("weight.nested_quant_map");
        Tensor absmax = require(entries, "weight.absmax", prefix, nested ? DType.U8 : DType.F32, nblocks,
                (nested ? "double-quantized absmax codes" : "absmax") + " of " + nblocks + " blocks of " + blocksize);
        Tensor code = require(entries, "weight.quant_map", prefix, DType.F32, 16, "the 16-entry " + qt + " code");
        consumed.add("weight.absmax");
        consumed.add("weight.quant_map");
        QuantState.Nested n = null;
        if (nested) {
            int nbs = (int) jsonLong(js, "nested_blocksize", where);
            if (nbs != 256) {
                throw new IllegalArgumentException(where + ": nested_blocksize " + nbs + " is not supported; expected "
                        + "256 (bitsandbytes' double quantization)");
            }
            DType nd = jsonDtype(js, "nested_dtype", where);
            if (nd != DType.F32) {
                throw new IllegalArgumentException(where + ": nested_dtype: expected \"float32\", got \""
                        + BitsAndBytesConfig.torchName(nd) + "\"");
            }
            JsonElement off = js.get("nested_offset");
            if (off == null || !off.isJsonPrimitive() || !off.getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException(where + ": nested_offset: expected a number, got " + off);
            }
            long nb2 = (nblocks + nbs - 1) / nbs;
            Tensor nabs = require(entries, "weight.nested_absmax", prefix, DType.F32, nb2,
                    "the nested absmax of " + nb2 + " blocks of " + nbs + " absmax values");
            Tensor ncode = require(entries, "weight.nested_quant_map", prefix, DType.F32, 256,
                    "the 256-entry dynamic map");
            consumed.add("weight.nested_absmax");
            consumed.add("weight.nested_quant_map");
            n = new QuantState.Nested((float) off.getAsDouble(), nabs.reshape(nb2), ncode.reshape(256), nbs);
        }
        List<String> extra = new ArrayList<>();
        for (String k : entries.keySet()) {
            if (k.startsWith("weight.") && !consumed.contains(k)) {
                extra.add(k);
            }
        }
        if (!extra.isEmpty()) {
            throw new IllegalArgumentException(w + ": unexpected entries " + prefixed(prefix, extra) + " for a "
                    + (nested ? "double-quantized" : "not double-quantized") + " " + qt + " weight; bitsandbytes "
                    + "writes absmax, quant_map" + (nested ? ", nested_absmax, nested_quant_map" : "") + " and "
                    + QUANT_STATE_KEY + qt);
        }
        QuantState st = new QuantState(type, blocksize, shape, dtype, absmax.reshape(nblocks), code.reshape(16), n);
        return new Read(packed.rank() == 2 ? packed : packed.reshape(packed.numel(), 1), st, consumed);
    }

    private static List<String> prefixed(String prefix, List<String> keys) {
        List<String> out = new ArrayList<>();
        for (String k : keys) {
            out.add(prefix + k);
        }
        return out;
    }

    private static Tensor require(Map<String, Tensor> entries, String key, String prefix, DType dtype, long numel,
            String what) {
        Tensor t = entries.get(key);
        if (t == null) {
            throw new IllegalArgumentException(prefix + key + ": missing; expected " + dtype + " [" + numel + "] ("
                    + what + ")");
        }
        if (t.dtype() != dtype || t.numel() != numel || (t.rank() != 1 && !key.equals("weight"))) {
            throw new IllegalArgumentException(prefix + key + ": expected " + dtype + " [" + numel + "] (" + what
                    + "), got " + describe(t));
        }
        return t;
    }

    private static String describe(Tensor t) {
        return t.dtype() + " " + Arrays.toString(t.shape());
    }

    private static JsonObject parseJson(String where, Tensor t) {
        if (t.dtype() != DType.U8 || t.rank() != 1) {
            throw new IllegalArgumentException(where + ": expected U8 [n] (UTF-8 JSON bytes), got " + describe(t));
        }
        ByteBuffer b = t.data().duplicate();
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(b).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(where + ": expected UTF-8 JSON bytes, got bytes that are not UTF-8", e);
        }
        try {
            return StrictGson.parseObject(text, where);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(where + ": expected a JSON object (bitsandbytes' quant state), got "
                    + "malformed JSON: " + e.getMessage(), e);
        }
    }

    private static String jsonString(JsonObject js, String key, String where) {
        JsonElement e = js.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(where + ": " + key + ": expected a string, got " + e);
        }
        return e.getAsString();
    }

    private static long jsonLong(JsonObject js, String key, String where) {
        return asLong(js.get(key), key, where);
    }

    private static long asLong(JsonElement e, String key, String where) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new IllegalArgumentException(where + ": " + key + ": expected an integer, got " + e);
        }
        BigDecimal d = e.getAsBigDecimal();
        try {
            long v = d.longValueExact();
            if (v <= 0 || v > Integer.MAX_VALUE * 64L) {
                throw new ArithmeticException();
            }
            return v;
        } catch (ArithmeticException ex) {
            throw new IllegalArgumentException(where + ": " + key + ": expected a positive integer, got " + e);
        }
    }

    private static DType jsonDtype(JsonObject js, String key, String where) {
        String s = jsonString(js, key, where);
        switch (s) {
            case "float32": return DType.F32;
            case "float16": return DType.F16;
            case "bfloat16": return DType.BF16;
            default:
                throw new IllegalArgumentException(where + ": " + key + ": expected \"float32\", \"float16\" or "
                        + "\"bfloat16\", got \"" + s + "\"");
        }
    }
}
