package org.peft4j.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.loader.ResourceLocator;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.tree.output.OutputNode;
import com.hubspot.jinjava.tree.output.RenderedOutputNode;
import com.hubspot.jinjava.tree.parse.Token;
import java.lang.reflect.Array;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A transformers chat template rendered with Jinjava, sandboxed.
 *
 * <p>As in transformers' {@code apply_chat_template}, the template is the only code: {@code messages} and the other
 * variables are data, and text in them that looks like Jinja ({@code {{ 7*7 }}}, {@code {% include %}}) is output
 * verbatim. Jinjava's nested interpretation (re-rendering {@code {{ }}} found in the values it prints, on by default)
 * is switched off for this.
 *
 * <p>The template runs in a sandbox: it cannot load other templates ({@code include}, {@code import},
 * {@code from}, {@code extends} fail with {@link ChatTemplateSandboxException}); {@code range} follows Python and,
 * like transformers' sandboxed Jinja environment, refuses ranges of more than {@value #MAX_RANGE} items; the output
 * is limited to {@value #MAX_OUTPUT_CHARS} characters, and a rendering to {@value #MAX_NODES} template nodes and
 * {@value #MAX_LOOP_ITERATIONS} loop iterations, so that a runaway loop stops with an exception.
 *
 * <p>{@link #renderLocated} renders once and says where the template's loop over the messages starts each message's
 * iteration: the loop is instrumented in the parsed tree (a marker at the start of each iteration and one after the
 * loop), which leaves the template's text, whitespace control and {@code trim_blocks} as they are. Fine-tuning uses
 * it to find the assistant turns in one rendering instead of one per conversation prefix.
 */
final class JinjaChatTemplate implements ChatTemplate {
    /** transformers' (jinja2 sandbox's) {@code MAX_RANGE}. */
    static final int MAX_RANGE = 100_000;
    /** The longest rendering, in chars. */
    static final long MAX_OUTPUT_CHARS = 16L << 20;
    /** The most template nodes (text, expressions, tags, counted each time a loop runs them) one rendering runs. */
    static final long MAX_NODES = 5_000_000L;
    /** The most loop iterations, all {@code for} loops together, one rendering runs. */
    static final long MAX_LOOP_ITERATIONS = 5_000_000L;

    private final Jinjava jinjava;
    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final String source;
    /** Per rendering: nodes run, loop iterations started. */
    private final ThreadLocal<long[]> counts = ThreadLocal.withInitial(() -> new long[2]);
    /** Marks the start of one iteration of the loop over the messages (a private-use character). */
    static final char TURN_MARK = '\uE000';
    /** Marks the end of the loop over the messages. */
    static final char LOOP_END_MARK = '\uE001';
    /** During {@link #renderLocated}: the messages' maps and what the instrumented loop saw. */
    private final ThreadLocal<Locating> locating = new ThreadLocal<>();

    JinjaChatTemplate(String template, String bosToken, String eosToken) {
        this(template, bosToken, eosToken, "chat template");
    }

    /** {@code source} names the template in error messages, e.g. "the chat template of /m/tokenizer_config.json". */
    JinjaChatTemplate(String template, String bosToken, String eosToken, String source) {
        this.source = source;
        this.template = template;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        JinjavaProcessors processors = JinjavaProcessors.newBuilder().withNodePreProcessor(this::countNode).build();
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // jinja2's whitespace control on {{- ... -}} and {#- ... -#} (Jinjava applies it to tags only
                // unless told): Qwen2.5's and Llama 3.1's templates indent their expressions and rely on it
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).build())
                .withNestedInterpretationEnabled(false)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withMaxStringLength(MAX_OUTPUT_CHARS)
                .withRangeLimit(MAX_RANGE)
                .withProcessors(processors)
                .build());
        jinjava.setResourceLocator(new RefusingLocator());
        jinjava.registerTag(new CountingForTag());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", JinjaChatTemplate.class, "raiseException", String.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "range", JinjaChatTemplate.class, "range", Object.class, Object[].class));
    }

    /** The template's {@code raise_exception(message)}. */
    public static String raiseException(String message) {
        throw new TemplateException(message);
    }

    /**
     * Python's {@code range(stop)}, {@code range(start, stop)}, {@code range(start, stop, step)}, refusing more than
     * {@link #MAX_RANGE} items with jinja2's sandbox message.
     */
    public static List<Integer> range(Object first, Object... rest) {
        long start = 0;
        long stop;
        long step = 1;
        if (rest == null || rest.length == 0) {
            stop = integer(first);
        } else {
            start = integer(first);
            stop = integer(rest[0]);
            if (rest.length > 1) {
                step = integer(rest[1]);
            }
            if (rest.length > 2) {
                throw new TemplateException("range expected at most 3 arguments, got " + (rest.length + 1));
            }
        }
        if (step == 0) {
            throw new TemplateException("range() arg 3 must not be zero");
        }
        long n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (n > MAX_RANGE) {
            throw new ChatTemplateSandboxException("Range too big. The sandbox blocks ranges larger than MAX_RANGE ("
                    + MAX_RANGE + ").");
        }
        List<Integer> out = new ArrayList<>((int) n);
        for (long i = 0, v = start; i < n; i++, v += step) {
            out.add((int) v);
        }
        return out;
    }

    private static long integer(Object o) {
        if (o instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())
                && Math.abs(num.doubleValue()) < 1e15) {
            return num.longValue();
        }
        throw new TemplateException("range() expects integers, got " + o);
    }

    private void countNode(Node node, JinjavaInterpreter interpreter) {
        if (++counts.get()[0] > MAX_NODES) {
            throw new ChatTemplateSandboxException("the chat template ran more than " + MAX_NODES
                    + " template nodes (a runaway loop?)");
        }
    }

    @Override
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        return renderMaps(maps(messages), addGenerationPrompt);
    }

    /**
     * Renders {@code messages} once and locates the template's loop over them; null when that cannot be done
     * safely: no loop, or more than one, runs over a contiguous run of the messages ending with the last one in
     * order; the loop's output is not in the result once, in order; or a marker character already occurs in the
     * template, the special tokens or the messages. {@link Located#text()} is exactly what {@link #render} returns.
     */
    Located renderLocated(List<Message> messages, boolean addGenerationPrompt) {
        if (!canLocate(messages)) {
            return null;
        }
        List<Map<String, Object>> maps = maps(messages);
        Locating state = new Locating(maps);
        locating.set(state);
        String out;
        try {
            out = renderMaps(maps, addGenerationPrompt);
        } finally {
            locating.remove();
        }
        if (state.loops != 1) {
            return null;
        }
        int[] starts = new int[messages.size()];
        java.util.Arrays.fill(starts, -1);
        StringBuilder text = new StringBuilder(out.length());
        int seen = 0;
        int loopEnd = -1;
        for (int i = 0; i < out.length(); i++) {
            char c = out.charAt(i);
            if (c == TURN_MARK) {
                if (loopEnd >= 0 || seen == state.order.length) {
                    return null;
                }
                starts[state.order[seen++]] = text.length();
            } else if (c == LOOP_END_MARK) {
                if (loopEnd >= 0 || seen != state.order.length) {
                    return null;
                }
                loopEnd = text.length();
            } else {
                text.append(c);
            }
        }
        return loopEnd < 0 ? null : new Located(text.toString(), starts, loopEnd);
    }

    /** False when a marker character of {@link #renderLocated} occurs in the template, its tokens or the messages. */
    boolean canLocate(List<Message> messages) {
        String marks = String.valueOf(TURN_MARK) + LOOP_END_MARK;
        if (containsAny(template, marks) || containsAny(bosToken, marks) || containsAny(eosToken, marks)) {
            return false;
        }
        for (Message m : messages) {
            if (containsAny(m.role(), marks) || containsAny(m.content(), marks)) {
                return false;
            }
        }
        return true;
    }

    /**
     * A rendering with the positions of the loop over the messages.
     *
     * @param text the rendering, as {@link #render} gives it
     * @param starts for each message, where its iteration of the loop starts in {@code text}; -1 for a message
     *     the loop does not run over (e.g. a system message the template renders before it)
     * @param loopEnd where the loop's output ends in {@code text}
     */
    record Located(String text, int[] starts, int loopEnd) {
    }

    private static boolean containsAny(String s, String chars) {
        if (s == null) {
            return false;
        }
        for (int i = 0; i < chars.length(); i++) {
            if (s.indexOf(chars.charAt(i)) >= 0) {
                return true;
            }
        }
        return false;
    }

    private static List<Map<String, Object>> maps(List<Message> messages) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
        return list;
    }

    private String renderMaps(List<Map<String, Object>> list, boolean addGenerationPrompt) {
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", list);
        vars.put("bos_token", bosToken == null ? "" : bosToken);
        vars.put("eos_token", eosToken == null ? "" : eosToken);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result;
        long[] c = counts.get();
        c[0] = 0;
        c[1] = 0;
        try {
            result = jinjava.renderForResult(template, vars);
        } catch (RuntimeException e) {
            throw failure(source, e, e.getMessage());
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL || ours(error.getException()) != null) {
                throw failure(source, error.getException(), error.getMessage());
            }
        }
        return result.getOutput();
    }

    /** What {@link #renderLocated} looks for: the messages' maps by identity, and the loop it instrumented. */
    private static final class Locating {
        final Map<Object, Integer> index = new IdentityHashMap<>();
        final int count;
        int loops;
        int[] order;

        Locating(List<Map<String, Object>> maps) {
            for (int i = 0; i < maps.size(); i++) {
                index.put(maps.get(i), i);
            }
            count = maps.size();
        }

        /**
         * The indices of the messages {@code collection} runs over, if they are a non-empty contiguous run that
         * ends with the last message, in order; else null.
         */
        int[] run(Object collection) {
            if (!(collection instanceof List<?> list) || list.isEmpty() || list.size() > count) {
                return null;
            }
            int[] out = new int[list.size()];
            int k = 0;
            for (Object o : list) {
                Integer i = index.get(o);
                if (i == null || (k > 0 && i != out[k - 1] + 1)) {
                    return null;
                }
                out[k++] = i;
            }
            return out[k - 1] == count - 1 ? out : null;
        }
    }

    /** Outputs {@link #TURN_MARK}; put first among a loop's children for one rendering. */
    private static final class TurnMarkNode extends Node {
        private static final long serialVersionUID = 1L;

        TurnMarkNode(Token master) {
            super(master, master.getLineNumber(), master.getStartPosition());
        }

        @Override
        public OutputNode render(JinjavaInterpreter interpreter) {
            return new RenderedOutputNode(String.valueOf(TURN_MARK));
        }

        @Override
        public String getName() {
            return "peft4j-turn-mark";
        }
    }

    private static RuntimeException failure(String source, Throwable thrown, String fallback) {
        RuntimeException cause = ours(thrown);
        if (cause instanceof ChatTemplateSandboxException sandbox) {
            return new IllegalArgumentException(source + " was stopped by the sandbox: " + sandbox.getMessage(),
                    sandbox);
        }
        if (cause != null) {
            return new IllegalArgumentException(source + " raised an exception: " + cause.getMessage(), cause);
        }
        return new IllegalArgumentException(source + " raised an exception: " + fallback, thrown);
    }

    /** The TemplateException or ChatTemplateSandboxException behind {@code t}, or null. */
    private static RuntimeException ours(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof TemplateException || c instanceof ChatTemplateSandboxException) {
                return (RuntimeException) c;
            }
        }
        return null;
    }

    /** Jinjava's {@code for}, counting the iterations of each loop against {@link #MAX_LOOP_ITERATIONS}. */
    private final class CountingForTag extends ForTag {
        private static final long serialVersionUID = 1L;

        @Override
        public String renderForCollection(TagNode tagNode, JinjavaInterpreter interpreter, List<String> loopVars,
                Object collection) {
            long[] c = counts.get();
            c[1] += size(collection);
            if (c[1] > MAX_LOOP_ITERATIONS) {
                throw new ChatTemplateSandboxException("the chat template's loops ran more than "
                        + MAX_LOOP_ITERATIONS + " iterations (a runaway loop?)");
            }
            Locating state = locating.get();
            int[] run = state == null ? null : state.run(collection);
            if (run == null) {
                return super.renderForCollection(tagNode, interpreter, loopVars, collection);
            }
            state.loops++;
            state.order = run;
            // the tree is parsed anew for each rendering, so the extra child is seen by this rendering only
            tagNode.getChildren().addFirst(new TurnMarkNode(tagNode.getMaster()));
            try {
                return super.renderForCollection(tagNode, interpreter, loopVars, collection) + LOOP_END_MARK;
            } finally {
                tagNode.getChildren().removeFirst();
            }
        }

        private static long size(Object collection) {
            if (collection instanceof Collection<?> col) {
                return col.size();
            }
            if (collection instanceof Map<?, ?> map) {
                return map.size();
            }
            if (collection != null && collection.getClass().isArray()) {
                return Array.getLength(collection);
            }
            if (collection instanceof CharSequence cs) {
                return cs.length();
            }
            return 1;
        }
    }

    /** Refuses to load any template: chat templates are self-contained. */
    private static final class RefusingLocator implements ResourceLocator {
        @Override
        public String getString(String fullName, Charset encoding, JinjavaInterpreter interpreter) {
            throw new ChatTemplateSandboxException("chat templates may not load other templates; the template "
                    + "tried to load '" + fullName + "'");
        }
    }

    /** Thrown by {@code raise_exception}. */
    static final class TemplateException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TemplateException(String message) {
            super(message);
        }
    }

    /** Thrown when the template does what the sandbox forbids or exceeds one of its bounds. */
    static final class ChatTemplateSandboxException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ChatTemplateSandboxException(String message) {
            super(message);
        }
    }
}
