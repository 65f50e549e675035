package org.peft4j.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.graph.Parameter;
import org.peft4j.tensor.Tensor;

/**
 * A node of the module tree, mirroring {@code torch.nn.Module}: named children, named parameters, dotted names,
 * submodule lookup and replacement, and state dicts.
 *
 * <p>Modules look their children and parameters up by name when they emit their computation, so replacing a child
 * with {@link #setSubmodule(String, Module)} (as PEFT's tree surgery does) changes what the parent computes.
 */
public abstract class Module implements Cloneable {
    private LinkedHashMap<String, Module> children = new LinkedHashMap<>();
    private LinkedHashMap<String, Parameter> params = new LinkedHashMap<>();

    /** The class name shown in module listings (as PyTorch prints it). */
    public String typeName() {
        return getClass().getSimpleName();
    }

    // ------------------------------------------------------------------ registration

    /** Adds or replaces a child module. */
    protected <M extends Module> M registerModule(String name, M module) {
        checkName(name);
        children.put(name, module);
        return module;
    }

    /** Adds or replaces a parameter ({@code null} registers nothing, like a bias of {@code None}). */
    protected Parameter registerParameter(String name, Parameter p) {
        checkName(name);
        if (p == null) {
            params.remove(name);
        } else {
            params.put(name, p);
        }
        return p;
    }

    /** Removes a direct child; returns it, or null if there was none. */
    protected Module removeModule(String name) {
        return children.remove(name);
    }

    private static void checkName(String name) {
        if (name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException("invalid module or parameter name '" + name + "'");
        }
    }

    /** Direct parameter {@code name}, or null. */
    public Parameter parameter(String name) {
        return params.get(name);
    }

    /** Direct child {@code name}, or null. */
    public Module child(String name) {
        return children.get(name);
    }

    /** Direct child {@code name} as a {@link Layer}. */
    protected Layer layer(String name) {
        Module m = children.get(name);
        if (!(m instanceof Layer)) {
            throw new IllegalStateException(typeName() + "." + name + " is " + (m == null ? "missing" : m.typeName())
                    + ", expected a layer");
        }
        return (Layer) m;
    }

    /** Direct parameters in registration order. */
    public Map<String, Parameter> directParameters() {
        return Collections.unmodifiableMap(params);
    }

    // ------------------------------------------------------------------ traversal

    /** Direct children in registration order. */
    public Map<String, Module> namedChildren() {
        return Collections.unmodifiableMap(children);
    }

    /**
     * What, besides the module tree and the parameters, changes the nodes this module emits: null for plain layers;
     * adapter wrappers return their active, disabled and merged adapters. Read by {@code CausalLM#graphState()}, so
     * a built training graph notices when it no longer matches the model. Must change whenever the emitted graph does.
     */
    public Object forwardState() {
        return null;
    }

    /** This module ({@code ""}) and all descendants, pre-order, with dotted names; each module listed once. */
    public LinkedHashMap<String, Module> namedModules() {
        LinkedHashMap<String, Module> out = new LinkedHashMap<>();
        Set<Module> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        collectModules("", this, out, seen);
        return out;
    }

    private static void collectModules(String prefix, Module m, Map<String, Module> out, Set<Module> seen) {
        if (!seen.add(m)) {
            return;
        }
        out.put(prefix, m);
        for (Map.Entry<String, Module> e : m.children.entrySet()) {
            collectModules(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out, seen);
        }
    }

    /** All parameters with dotted names; a parameter shared by two modules (tied weights) is listed once. */
    public LinkedHashMap<String, Parameter> namedParameters() {
        return namedParameters(true);
    }

    /**
     * All parameters with dotted names.
     *
     * @param removeDuplicate list a shared parameter only under its first name (PyTorch's default)
     */
    public LinkedHashMap<String, Parameter> namedParameters(boolean removeDuplicate) {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>();
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        collectParameters("", this, out, seen, removeDuplicate);
        return out;
    }

    private static void collectParameters(String prefix, Module m, Map<String, Parameter> out, Set<Parameter> seen,
            boolean dedup) {
        for (Map.Entry<String, Parameter> e : m.params.entrySet()) {
            if (!dedup || seen.add(e.getValue())) {
                out.put(prefix + e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<String, Module> e : m.children.entrySet()) {
            collectParameters(prefix + e.getKey() + ".", e.getValue(), out, seen, dedup);
        }
    }

    /** All distinct parameters. */
    public List<Parameter> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Number of parameter elements (shared parameters counted once). */
    public long numParameters() {
        long n = 0;
        for (Parameter p : parameters()) {
            n += p.numel();
        }
        return n;
    }

    /** Number of trainable parameter elements. */
    public long numTrainableParameters() {
        long n = 0;
        for (Parameter p : parameters()) {
            if (p.trainable()) {
                n += p.numel();
            }
        }
        return n;
    }

    /** Sets the trainable flag of every parameter ({@code requires_grad_}). */
    public Module requiresGrad(boolean trainable) {
        for (Parameter p : parameters()) {
            p.setTrainable(trainable);
        }
        return this;
    }

    // ------------------------------------------------------------------ copies

    /**
     * A deep copy of this module ({@code copy.deepcopy}): the same structure and settings, with new parameters whose
     * data are owned copies and whose trainable flags are kept. Parameters shared inside the copied subtree stay
     * shared in the copy; shape-only parameters stay shape-only.
     */
    public Module deepCopy() {
        return deepCopy(new IdentityHashMap<>(), new IdentityHashMap<>());
    }

    private Module deepCopy(Map<Module, Module> modules, Map<Parameter, Parameter> copies) {
        Module done = modules.get(this);
        if (done != null) {
            return done;
        }
        Module c;
        try {
            c = (Module) super.clone();
        } catch (CloneNotSupportedException e) {
            throw new AssertionError(e);
        }
        modules.put(this, c);
        c.params = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            c.params.put(e.getKey(), copies.computeIfAbsent(e.getValue(), Module::copyParameter));
        }
        c.children = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : children.entrySet()) {
            c.children.put(e.getKey(), e.getValue().deepCopy(modules, copies));
        }
        c.afterCopy(this);
        return c;
    }

    private static Parameter copyParameter(Parameter p) {
        Parameter q = p.hasData() ? new Parameter(p.data().copy()) : new Parameter(p.dtype(), p.shape());
        return q.setTrainable(p.trainable()).setPacking(p.packing());
    }

    /**
     * Puts {@code replacement} wherever {@code old} is registered in this tree (every alias of a shared parameter, so
     * ties are kept), e.g. to change a parameter's dtype as {@code param.data = param.data.to(dtype)} does.
     *
     * @return the number of registrations replaced
     */
    public int replaceParameter(Parameter old, Parameter replacement) {
        int n = 0;
        for (Module m : namedModules().values()) {
            for (Map.Entry<String, Parameter> e : m.params.entrySet()) {
                if (e.getValue() == old) {
                    e.setValue(replacement);
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Hook for subclasses that hold mutable state besides children and parameters: called on the fresh copy after
     * {@link #deepCopy()} has copied children and parameters.
     */
    protected void afterCopy(Module original) {
    }

    // ------------------------------------------------------------------ paths

    /**
     * The module at a dotted path ({@code ""} is this module).
     *
     * @throws IllegalArgumentException naming the first missing part, as PyTorch's {@code get_submodule} does
     */
    public Module getSubmodule(String path) {
        if (path.isEmpty()) {
            return this;
        }
        Module m = this;
        String walked = typeName();
        for (String part : path.split("\\.", -1)) {
            Module next = m.children.get(part);
            if (next == null) {
                throw new IllegalArgumentException(walked + " has no attribute `" + part + "` (path '" + path + "')");
            }
            m = next;
            walked = m.typeName();
        }
        return m;
    }

    /**
     * Replaces (or adds) the module at a dotted path; the parent must exist.
     *
     * @throws IllegalArgumentException if the parent path does not exist
     */
    public void setSubmodule(String path, Module module) {
        int dot = path.lastIndexOf('.');
        Module parent = dot < 0 ? this : getSubmodule(path.substring(0, dot));
        parent.registerModule(dot < 0 ? path : path.substring(dot + 1), module);
    }

    /** The parameter at a dotted path, or null. */
    public Parameter getParameter(String path) {
        int dot = path.lastIndexOf('.');
        try {
            Module owner = dot < 0 ? this : getSubmodule(path.substring(0, dot));
            return owner.params.get(dot < 0 ? path : path.substring(dot + 1));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------ state dicts

    /**
     * Parameter data by dotted name, every alias of a shared parameter included, and each module's
     * {@link #extraState()} after its own parameters (as {@code state_dict()}).
     *
     * @throws IllegalStateException if a parameter is shape-only
     */
    public LinkedHashMap<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collectState("", this, out);
        return out;
    }

    /** Pre-order like {@link #namedParameters(boolean)}: a module's parameters, then its extra state, then children. */
    private static void collectState(String prefix, Module m, Map<String, Tensor> out) {
        for (Map.Entry<String, Parameter> e : m.params.entrySet()) {
            if (!e.getValue().hasData()) {
                throw new IllegalStateException("parameter '" + prefix + e.getKey() + "' has no data (built shape-only)");
            }
            out.put(prefix + e.getKey(), e.getValue().data());
        }
        for (Map.Entry<String, Tensor> e : m.extraState().entrySet()) {
            out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Module> e : m.children.entrySet()) {
            collectState(prefix + e.getKey() + ".", e.getValue(), out);
        }
    }

    /**
     * State-dict entries of this module besides its parameters, as torch's {@code _save_to_state_dict} writes them
     * (e.g. a 4-bit layer's {@code weight.absmax} and quant-state entries): names relative to this module, which may
     * contain dots. {@link #stateDict()} lists them right after this module's parameters. None by default.
     *
     * @throws IllegalStateException if the module cannot describe its state (e.g. not loaded yet)
     */
    protected Map<String, Tensor> extraState() {
        return Map.of();
    }

    /**
     * This module's part of {@link #loadStateDict(Map, boolean)}, as torch's {@code _load_from_state_dict}: called
     * before parameters are matched by name, for every module that has entries under its name, with those entries
     * (names relative to this module, e.g. {@code weight} and {@code weight.absmax}; entries of child modules are
     * not included). The module loads what it recognises itself (e.g. quantizes a float {@code weight}, or reads a
     * packed weight with its quant state) and returns the relative names it consumed: those entries are neither
     * matched to parameters again nor reported as unexpected, and parameters among them count as loaded. Returns
     * nothing by default (plain parameters are matched by name).
     *
     * @param prefix this module's dotted name followed by a dot ({@code ""} for the root), for messages
     * @throws IllegalArgumentException for entries the module recognises but cannot load, naming the key and what
     *     was expected; collected into the load's error message
     */
    protected Set<String> loadOwnState(String prefix, Map<String, Tensor> entries) {
        return Set.of();
    }

    /**
     * Loads parameter data by dotted name. A tensor of another floating dtype is converted to the parameter's dtype
     * (a copy); a tensor of the same dtype is used as is (a view, e.g. of a memory-mapped file). A shared parameter
     * counts as loaded when any of its names is present. Each module first takes the entries it loads itself
     * ({@link #loadOwnState}).
     *
     * @param strict throw when keys are missing or unexpected
     * @throws IllegalArgumentException on a shape mismatch, or in strict mode on missing/unexpected keys, with
     *     PyTorch's wording
     */
    public LoadResult loadStateDict(Map<String, Tensor> stateDict, boolean strict) {
        LinkedHashMap<String, Parameter> all = namedParameters(false);
        Set<Parameter> loaded = Collections.newSetFromMap(new IdentityHashMap<>());
        List<String> errors = new ArrayList<>();
        Set<String> consumed = loadOwnStates(stateDict, all, loaded, errors);
        for (Map.Entry<String, Parameter> e : all.entrySet()) {
            Tensor t = stateDict.get(e.getKey());
            if (t == null || consumed.contains(e.getKey())) {
                continue;
            }
            Parameter p = e.getValue();
            if (!Arrays.equals(t.shape(), p.shape())) {
                errors.add("size mismatch for " + e.getKey() + ": copying a param with shape " + Arrays.toString(
                        t.shape()) + " from checkpoint, the shape in current model is " + Arrays.toString(p.shape())
                        + ".");
                continue;
            }
            p.setData(t.dtype() == p.dtype() ? t : t.to(p.dtype()));
            loaded.add(p);
        }
        List<String> missing = new ArrayList<>();
        Set<Parameter> reported = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Map.Entry<String, Parameter> e : all.entrySet()) {
            if (!loaded.contains(e.getValue()) && reported.add(e.getValue())) {
                missing.add(e.getKey());
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String k : stateDict.keySet()) {
            if (!all.containsKey(k) && !consumed.contains(k)) {
                unexpected.add(k);
            }
        }
        LoadResult res = new LoadResult(missing, unexpected);
        if (!errors.isEmpty() || (strict && (!missing.isEmpty() || !unexpected.isEmpty()))) {
            StringBuilder sb = new StringBuilder("Error(s) in loading state_dict for " + typeName() + ":");
            if (strict && !missing.isEmpty()) {
                sb.append("\n\tMissing key(s) in state_dict: ").append(quoted(missing)).append('.');
            }
            if (strict && !unexpected.isEmpty()) {
                sb.append("\n\tUnexpected key(s) in state_dict: ").append(quoted(unexpected)).append('.');
            }
            for (String err : errors) {
                sb.append("\n\t").append(err);
            }
            throw new IllegalArgumentException(sb.toString());
        }
        return res;
    }

    /**
     * Runs {@link #loadOwnState} of every module that has entries under its name; returns the full names consumed and
     * marks the parameters among them loaded.
     */
    private Set<String> loadOwnStates(Map<String, Tensor> stateDict, Map<String, Parameter> all,
            Set<Parameter> loaded, List<String> errors) {
        Map<String, Module> owners = new LinkedHashMap<>();
        Map<String, Map<String, Tensor>> byOwner = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : stateDict.entrySet()) {
            String key = e.getKey();
            Module m = this;
            int from = 0;
            int dot;
            while ((dot = key.indexOf('.', from)) >= 0 && m.children.containsKey(key.substring(from, dot))) {
                m = m.children.get(key.substring(from, dot));
                from = dot + 1;
            }
            String prefix = key.substring(0, from);
            owners.putIfAbsent(prefix, m);
            byOwner.computeIfAbsent(prefix, k -> new LinkedHashMap<>()).put(key.substring(from), e.getValue());
        }
        Set<String> consumed = new LinkedHashSet<>();
        for (Map.Entry<String, Map<String, Tensor>> e : byOwner.entrySet()) {
            String prefix = e.getKey();
            Set<String> took;
            try {
                took = owners.get(prefix).loadOwnState(prefix, Collections.unmodifiableMap(e.getValue()));
            } catch (IllegalArgumentException ex) {
                errors.add(ex.getMessage());
                for (String rel : e.getValue().keySet()) {
                    consumed.add(prefix + rel);
                }
                continue;
            }
            for (String rel : took) {
                consumed.add(prefix + rel);
                Parameter p = all.get(prefix + rel);
                if (p != null) {
                    loaded.add(p);
                }
            }
        }
        return consumed;
    }

    private static String quoted(List<String> keys) {
        StringBuilder sb = new StringBuilder();
        for (String k : new LinkedHashSet<>(keys)) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append('"').append(k).append('"');
        }
        return sb.toString();
    }

    /** Missing and unexpected keys of {@link #loadStateDict(Map, boolean)}. */
    public static final class LoadResult {
        private final List<String> missingKeys;
        private final List<String> unexpectedKeys;

        /**
         * The outcome of loading a state dict.
         *
         * @param missingKeys the module's parameters the state dict did not hold
         * @param unexpectedKeys the state dict's keys no parameter took
         */
        public LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {
            this.missingKeys = Collections.unmodifiableList(missingKeys);
            this.unexpectedKeys = Collections.unmodifiableList(unexpectedKeys);
        }

        /**
         * Parameters of the module the state dict did not hold.
         *
         * @return the names, unmodifiable
         */
        public List<String> missingKeys() {
            return missingKeys;
        }

        /**
         * Keys of the state dict no parameter took.
         *
         * @return the names, unmodifiable
         */
        public List<String> unexpectedKeys() {
            return unexpectedKeys;
        }

        @Override
        public String toString() {
            return "LoadResult(missing=" + missingKeys + ", unexpected=" + unexpectedKeys + ")";
        }
    }

    @Override
    public String toString() {
        return typeName() + "()";
    }
}
