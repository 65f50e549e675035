package org.peft4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 15: the plain Java values that replace Gson trees in the public API. Expected values are written out by hand
 * from the JSON text (what Python's {@code json.loads} gives: ints stay ints, order and nulls kept).
 */
class PlainJsonTest {
    @SuppressWarnings("unchecked")
    @Test
    void numbersStringsNullsAndOrderAsWritten() throws Exception {
        Map<String, Object> m = PlainJson.toPlainMap(StrictGson.parseObject("{\"z\": 1, \"a\": -2147483649, "
                + "\"big\": 18446744073709551616, \"f\": 1.5, \"e\": 1e-06, \"i\": 2.0, \"huge\": 1e400, "
                + "\"n\": null, \"s\": \"x\", \"t\": true, \"l\": [1, \"y\", null, {\"k\": 4294967296}]}", "t.json"));
        assertThat(new ArrayList<>(m.keySet())).containsExactly("z", "a", "big", "f", "e", "i", "huge", "n", "s", "t",
                "l");
        assertThat(m.get("z")).isEqualTo(1);
        assertThat(m.get("a")).isEqualTo(-2147483649L);
        assertThat(m.get("big")).isEqualTo(new BigInteger("18446744073709551616"));
        assertThat(m.get("f")).isEqualTo(1.5);
        assertThat(m.get("e")).isEqualTo(1e-6);
        assertThat(m.get("i")).isEqualTo(2.0);
        assertThat(m.get("huge")).isEqualTo(new BigDecimal("1e400"));
        assertThat(m).containsEntry("n", null);
        assertThat(m.get("s")).isEqualTo("x");
        assertThat(m.get("t")).isEqualTo(true);
        List<Object> l = (List<Object>) m.get("l");
        assertThat(l.subList(0, 3)).containsExactly(1, "y", null);
        assertThat((Map<String, Object>) l.get(3)).containsExactly(Map.entry("k", 4294967296L));
    }

    @Test
    void javaNumbersReadBackAsFromTheFile() {
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("long16", 16L);
        in.put("int", 7);
        in.put("longBig", 1L << 40);
        in.put("float", 0.1f);
        in.put("double", 0.25);
        Map<String, Object> out = PlainJson.toPlainMap(PlainJson.toTree(in).getAsJsonObject());
        assertThat(out).containsExactly(Map.entry("long16", 16), Map.entry("int", 7),
                Map.entry("longBig", 1099511627776L), Map.entry("float", 0.1), Map.entry("double", 0.25));
    }

    @Test
    void treesOfPlainValuesAreWrittenAsGiven() {
        Map<String, Object> in = new LinkedHashMap<>();
        in.put("b", Arrays.asList(1, null, "x"));
        in.put("a", null);
        in.put("m", Map.of("k", false));
        in.put("e", Thread.State.NEW);
        assertThat(PlainJson.toTree(in).toString()).isEqualTo("{\"b\":[1,null,\"x\"],\"a\":null,\"m\":{\"k\":false},"
                + "\"e\":\"NEW\"}");
    }

    @Test
    void plainValuesAreCopies() throws Exception {
        com.google.gson.JsonObject o = StrictGson.parseObject("{\"m\": {\"k\": 1}}", "t.json");
        @SuppressWarnings("unchecked")
        Map<String, Object> inner = (Map<String, Object>) PlainJson.toPlainMap(o).get("m");
        inner.put("k", 2);
        assertThat(o.toString()).isEqualTo("{\"m\":{\"k\":1}}");
    }
}
