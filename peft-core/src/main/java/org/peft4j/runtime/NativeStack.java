package org.peft4j.runtime;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs ONNX Runtime's native entry points (loading the library, creating sessions, running them) on threads with a
 * 64 MiB stack. ORT 1.29's native code overflows the JVM's default 1 MiB thread stack, and the JVM then dies with
 * SIGSEGV, without a Java stack trace or a crash log (see docs/ARCHITECTURE.md, Decisions). With this class a plain
 * {@code main} works without {@code -Xss}.
 *
 * <p>A call made from one of these threads runs directly. Any other call is handed to a pooled thread and the caller
 * waits: threads are created as needed and leave after 30 idle seconds, so concurrent callers still run concurrently.
 * The handoff costs tens of microseconds, small next to a session run. An exception thrown by the call is rethrown to
 * the caller unchanged, with the caller's stack attached as a suppressed exception. An interrupt does not stop the
 * wait, because a native call cannot be abandoned halfway; the interrupt flag is restored afterwards.
 */
final class NativeStack {
    static final long STACK_BYTES = 64L << 20;
    private static final AtomicInteger COUNT = new AtomicInteger();
    private static final ExecutorService POOL = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), NativeStack::newThread);

    private NativeStack() {
    }

    /** A thread of the pool (calls made on it run directly). */
    private static final class BigStackThread extends Thread {
        BigStackThread(Runnable r) {
            super(null, r, "peft4j-ort-" + COUNT.incrementAndGet(), STACK_BYTES);
            setDaemon(true);
        }
    }

    private static Thread newThread(Runnable r) {
        return new BigStackThread(r);
    }

    /** Whether the current thread is one of the large-stack threads. */
    static boolean onBigStack() {
        return Thread.currentThread() instanceof BigStackThread;
    }

    /** A native call that may throw ORT's checked exception. */
    @FunctionalInterface
    interface NativeCall<T, E extends Exception> {
        T call() throws E;
    }

    /**
     * Runs {@code call} on a large-stack thread and returns its result.
     *
     * @throws E what the call threw
     */
    @SuppressWarnings("unchecked")
    static <T, E extends Exception> T call(NativeCall<T, E> call) throws E {
        if (onBigStack()) {
            return call.call();
        }
        Callable<T> task = call::call;
        Future<T> f = POOL.submit(task);
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    cause.addSuppressed(new CallerStack(Thread.currentThread().getName()));
                    if (cause instanceof RuntimeException) {
                        throw (RuntimeException) cause;
                    }
                    if (cause instanceof Error) {
                        throw (Error) cause;
                    }
                    throw (E) cause;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Where a call that failed on a pool thread was made from. */
    static final class CallerStack extends Exception {
        private static final long serialVersionUID = 1L;

        CallerStack(String thread) {
            super("called from thread '" + thread + "'");
        }
    }
}
