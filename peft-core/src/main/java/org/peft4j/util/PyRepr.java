package org.peft4j.util;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Python's rendering of values in messages, so peft4j's error and warning texts read exactly as PEFT's
 * ({@code {'q_proj', 'v_proj'}}, {@code ['a', 1]}). Stateless and thread-safe.
 */
public final class PyRepr {
    private PyRepr() {
    }

    /** A collection as a Python set ({@code {'a', 'b'}}, {@code set()} when empty); anything else as its string. */
    public static String set(Object v) {
        if (v instanceof Collection) {
            List<String> parts = new ArrayList<>();
            for (Object o : (Collection<?>) v) {
                parts.add("'" + o + "'");
            }
            return parts.isEmpty() ? "set()" : "{" + String.join(", ", parts) + "}";
        }
        return String.valueOf(v);
    }

    /** A list as a Python list: strings quoted, numbers bare ({@code ['a', 1]}). */
    public static String list(List<?> v) {
        List<String> parts = new ArrayList<>();
        for (Object o : v) {
            parts.add(o instanceof String ? "'" + o + "'" : String.valueOf(o));
        }
        return "[" + String.join(", ", parts) + "]";
    }
}
