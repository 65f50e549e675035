package org.peft4j.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.ForTag;
import com.hubspot.jinjava.loader.ResourceLocator;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.lang.reflect.Array;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
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
        List<Map<String, Object>> list = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            list.add(map);
        }
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
            return super.renderForCollection(tagNode, interpreter, loopVars, collection);
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
