package org.peft4j.nn;

import java.util.ArrayList;
import java.util.List;

/** An indexed list of modules; children are named {@code "0"}, {@code "1"}, ... as in {@code torch.nn.ModuleList}. */
public class ModuleList extends Module {
    private int size;

    /** Appends a module. */
    public <M extends Module> M add(M m) {
        registerModule(Integer.toString(size++), m);
        return m;
    }

    /**
     * The number of modules.
     *
     * @return the size
     */
    public int size() {
        return size;
    }

    /** Module {@code i} (as currently registered: it may have been replaced). */
    public Module get(int i) {
        return child(Integer.toString(i));
    }

    /**
     * The modules in index order.
     *
     * @return a new list
     */
    public List<Module> modules() {
        List<Module> out = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            out.add(get(i));
        }
        return out;
    }
}
