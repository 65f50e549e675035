package org.peft4j.testutil;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The public API of a module, read by reflection from its compiled classes: every public class (nested ones whose
 * enclosing classes are public too) and its public members, plus protected members of classes a user may extend.
 * Classes in an {@code internal} package ({@code org.peft4j.internal}, {@code org.peft4j.x.internal.y}) are
 * implementation details shared between modules, documented as not API, and are left out.
 */
public final class PublicApi {
    private PublicApi() {
    }

    /**
     * Every member of the public API (of the module holding {@code anyClassOfTheModule}) whose signature mentions a
     * type whose name starts with {@code prefix}, as {@code "Class#member(signature)"}, sorted.
     */
    public static TreeSet<String> membersMentioning(Class<?> anyClassOfTheModule, String prefix) {
        TreeSet<String> hits = new TreeSet<>();
        for (Class<?> c : publicClasses(anyClassOfTheModule)) {
            List<String> sigs = new ArrayList<>();
            if (c.getGenericSuperclass() != null) {
                sigs.add("extends " + c.getGenericSuperclass().getTypeName());
            }
            for (Type t : c.getGenericInterfaces()) {
                sigs.add("implements " + t.getTypeName());
            }
            for (String s : sigs) {
                if (s.contains(prefix)) {
                    hits.add(c.getName() + " " + s);
                }
            }
            boolean extensible = !Modifier.isFinal(c.getModifiers()) && !c.isEnum() && !c.isRecord();
            for (Method m : c.getDeclaredMethods()) {
                if (visible(m.getModifiers(), extensible) && !m.isSynthetic() && !m.isBridge()
                        && m.toGenericString().contains(prefix)) {
                    hits.add(c.getName() + "#" + m.getName() + signature(m.getGenericParameterTypes()));
                }
            }
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (visible(k.getModifiers(), extensible) && !k.isSynthetic()
                        && k.toGenericString().contains(prefix)) {
                    hits.add(c.getName() + "#<init>" + signature(k.getGenericParameterTypes()));
                }
            }
            for (Field f : c.getDeclaredFields()) {
                if (visible(f.getModifiers(), extensible) && !f.isSynthetic()
                        && f.getGenericType().getTypeName().contains(prefix)) {
                    hits.add(c.getName() + "#" + f.getName());
                }
            }
        }
        return hits;
    }

    /**
     * Every public (and, in extensible classes, protected) method and constructor of the module's public API that
     * declares a checked exception, as {@code "Class#member(signature) throws Type, ..."}, sorted. Issue 15: the
     * library's entry points throw only unchecked {@code Peft4jException}s.
     */
    public static TreeSet<String> membersDeclaringCheckedExceptions(Class<?> anyClassOfTheModule) {
        TreeSet<String> hits = new TreeSet<>();
        for (Class<?> c : publicClasses(anyClassOfTheModule)) {
            boolean extensible = !Modifier.isFinal(c.getModifiers()) && !c.isEnum() && !c.isRecord();
            for (Method m : c.getDeclaredMethods()) {
                if (visible(m.getModifiers(), extensible) && !m.isSynthetic() && !m.isBridge()) {
                    String checked = checked(m.getExceptionTypes());
                    if (!checked.isEmpty()) {
                        hits.add(c.getName() + "#" + m.getName() + signature(m.getGenericParameterTypes())
                                + " throws " + checked);
                    }
                }
            }
            for (Constructor<?> k : c.getDeclaredConstructors()) {
                if (visible(k.getModifiers(), extensible) && !k.isSynthetic()) {
                    String checked = checked(k.getExceptionTypes());
                    if (!checked.isEmpty()) {
                        hits.add(c.getName() + "#<init>" + signature(k.getGenericParameterTypes()) + " throws "
                                + checked);
                    }
                }
            }
        }
        return hits;
    }

    private static String checked(Class<?>[] exceptionTypes) {
        StringBuilder sb = new StringBuilder();
        for (Class<?> e : exceptionTypes) {
            if (!RuntimeException.class.isAssignableFrom(e) && !Error.class.isAssignableFrom(e)) {
                sb.append(sb.length() == 0 ? "" : ", ").append(e.getName());
            }
        }
        return sb.toString();
    }

    private static boolean visible(int modifiers, boolean extensible) {
        return Modifier.isPublic(modifiers) || extensible && Modifier.isProtected(modifiers);
    }

    private static String signature(Type[] params) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < params.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(params[i].getTypeName());
        }
        return sb.append(')').toString();
    }

    /** The public classes compiled from the module's main sources (its classes folder or jar). */
    static List<Class<?>> publicClasses(Class<?> anyClassOfTheModule) {
        Path root;
        try {
            root = Path.of(anyClassOfTheModule.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        if (!Files.isDirectory(root)) {
            throw new IllegalStateException("expected a classes folder, got " + root);
        }
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                String rel = root.relativize(p).toString().replace(java.io.File.separatorChar, '.');
                String name = rel.substring(0, rel.length() - ".class".length());
                if (name.endsWith("package-info") || name.endsWith("module-info")) {
                    continue;
                }
                Class<?> c = Class.forName(name, false, anyClassOfTheModule.getClassLoader());
                if (isPublicApi(c)) {
                    out.add(c);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    /** Whether {@code c} lies in a package with an {@code internal} segment (not API, see the class comment). */
    public static boolean isInternal(Class<?> c) {
        return ("." + c.getPackageName() + ".").contains(".internal.");
    }

    private static boolean isPublicApi(Class<?> c) {
        if (isInternal(c)) {
            return false;
        }
        for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
            if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isLocalClass()
                    || k.isSynthetic()) {
                return false;
            }
        }
        return true;
    }
}
