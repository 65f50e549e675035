package org.peft4j;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A file or folder that could not be read, written, renamed or deleted at all: missing, no permission, disk full,
 * or another I/O failure of the file system. The message names the file and what was being done ({@code "cannot
 * read /m/config.json: no such file or directory"}); {@link #file()} gives the file to programs and the cause is the original
 * {@link IOException}.
 *
 * <p>A file that can be read but holds content the library cannot use is an {@link InvalidInputException} (or one of
 * its subtypes) instead.
 */
public class FileAccessException extends Peft4jException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * A file that could not be accessed.
     *
     * @param message the error text, which already names the file and the operation
     * @param file the file or folder at fault, or {@code null} when not known
     * @param cause the I/O failure
     */
    public FileAccessException(String message, Path file, IOException cause) {
        super(message, cause);
        this.file = file;
    }

    /**
     * The file or folder that could not be accessed.
     *
     * @return the file, or {@code null} when not known
     */
    public Path file() {
        return file;
    }

    /**
     * Wraps an I/O failure met while doing {@code action} ("read", "write", "rename", ...) on {@code file}, with a
     * message such as {@code "cannot read /m/config.json: no such file or directory"}. When the failure names another
     * file (a missing shard of a checkpoint folder, the temporary file of an atomic write), the message names both.
     *
     * @param action what was being done, a verb such as {@code "read"}, {@code "write"} or {@code "rename"}
     * @param file the file the operation was on, or {@code null} when only the exception knows it
     * @param cause the I/O failure
     * @return the exception to throw
     */
    public static FileAccessException of(String action, Path file, IOException cause) {
        Path named = file;
        String other = "";
        if (cause instanceof java.nio.file.FileSystemException fse && fse.getFile() != null) {
            if (named == null) {
                named = Path.of(fse.getFile());
            } else if (!named.toString().equals(fse.getFile())) {
                other = fse.getFile() + ": ";
            }
        }
        return new FileAccessException("cannot " + action + " " + (named == null ? "file" : named) + ": " + other
                + reason(cause), named, cause);
    }

    /**
     * Wraps an I/O failure with a message saying what was being done ({@code "could not append to /out/log.jsonl"}),
     * followed by the failure's reason (and the file it names, when that is another one).
     *
     * @param what what could not be done, naming the file or folder
     * @param file the file or folder, or {@code null}
     * @param cause the I/O failure
     * @return the exception to throw
     */
    public static FileAccessException wrapping(String what, Path file, IOException cause) {
        String other = "";
        if (cause instanceof java.nio.file.FileSystemException fse && fse.getFile() != null
                && !what.contains(fse.getFile())) {
            other = fse.getFile() + ": ";
        }
        return new FileAccessException(what + ": " + other + reason(cause), file, cause);
    }

    static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null) {
            return fse.getReason();
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "file already exists";
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
