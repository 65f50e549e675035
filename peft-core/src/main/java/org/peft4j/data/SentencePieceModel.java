package org.peft4j.data;

import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import org.peft4j.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The contents of a SentencePiece {@code tokenizer.model} (the {@code ModelProto} of sentencepiece_model.proto), read
 * with protobuf's wire format: the pieces with their scores and types, the model type and byte fallback of the
 * {@code trainer_spec}, the special ids, and the {@code normalizer_spec} settings. Unknown fields are skipped.
 */
public final class SentencePieceModel {
    /** A piece's type, as sentencepiece's {@code ModelProto.SentencePiece.Type}. */
    public enum PieceType {
        /** An ordinary piece, scored by the model. */
        NORMAL,
        /** The unknown piece ({@code <unk>}). */
        UNKNOWN,
        /** A control symbol ({@code <s>}, {@code </s>}): never produced from text. */
        CONTROL,
        /** A user-defined symbol, always matched as a whole in the text. */
        USER_DEFINED,
        /** An unused piece, skipped when encoding. */
        UNUSED,
        /** A byte-fallback piece {@code <0xNN>}. */
        BYTE;

        static PieceType of(int v) {
            switch (v) {
                case 1: return NORMAL;
                case 2: return UNKNOWN;
                case 3: return CONTROL;
                case 4: return USER_DEFINED;
                case 5: return UNUSED;
                case 6: return BYTE;
                default: throw new IllegalArgumentException("unknown SentencePiece piece type " + v);
            }
        }
    }

    /** One vocabulary entry. */
    public record Piece(String piece, float score, PieceType type) {
    }

    /** {@code TrainerSpec.ModelType}: 1 unigram, 2 BPE, 3 word, 4 char. */
    public static final int UNIGRAM = 1;
    /** {@code TrainerSpec.ModelType} BPE. */
    public static final int BPE = 2;

    private final List<Piece> pieces;
    private final int modelType;
    private final boolean byteFallback;
    private final int unkId;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final String unkSurface;
    private final boolean treatWhitespaceAsSuffix;
    private final String normalizerName;
    private final int precompiledCharsmapLength;
    private final boolean addDummyPrefix;
    private final boolean removeExtraWhitespaces;
    private final boolean escapeWhitespaces;

    private SentencePieceModel(Builder b) {
        this.pieces = Collections.unmodifiableList(b.pieces);
        this.modelType = b.modelType;
        this.byteFallback = b.byteFallback;
        this.unkId = b.unkId;
        this.bosId = b.bosId;
        this.eosId = b.eosId;
        this.padId = b.padId;
        this.unkSurface = b.unkSurface;
        this.treatWhitespaceAsSuffix = b.treatWhitespaceAsSuffix;
        this.normalizerName = b.normalizerName;
        this.precompiledCharsmapLength = b.charsmapLength;
        this.addDummyPrefix = b.addDummyPrefix;
        this.removeExtraWhitespaces = b.removeExtraWhitespaces;
        this.escapeWhitespaces = b.escapeWhitespaces;
    }

    /**
     * Reads a {@code tokenizer.model} file.
     *
     * @throws org.peft4j.FileAccessException when the file cannot be read
     * @throws InvalidInputException naming the file when it is not a SentencePiece model
     */
    public static SentencePieceModel load(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw org.peft4j.FileAccessException.of("read", file, e);
        }
        try {
            return parse(bytes);
        } catch (RuntimeException e) {
            Throwable why = e instanceof InvalidInputException && e.getCause() != null ? e.getCause() : e;
            throw new InvalidInputException(file + ": not a SentencePiece model (" + why.getMessage() + ")", file,
                    null, e);
        }
    }

    /**
     * Parses the bytes of a serialized {@code ModelProto}.
     *
     * @throws InvalidInputException when the bytes are not a SentencePiece model
     */
    public static SentencePieceModel parse(byte[] bytes) {
        try {
            Builder b = new Builder();
            CodedInputStream in = CodedInputStream.newInstance(bytes);
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                switch (tag) {
                    case (1 << 3) | 2: b.pieces.add(readPiece(in.readBytes().newCodedInput())); break;
                    case (2 << 3) | 2: readTrainerSpec(in.readBytes().newCodedInput(), b); break;
                    case (3 << 3) | 2: readNormalizerSpec(in.readBytes().newCodedInput(), b); break;
                    default: in.skipField(tag);
                }
            }
            if (b.pieces.isEmpty()) {
                throw new IOException("no pieces");
            }
            return new SentencePieceModel(b);
        } catch (IOException e) {
            throw new InvalidInputException("not a SentencePiece model (" + e.getMessage() + ")", null, null, e);
        }
    }

    private static Piece readPiece(CodedInputStream in) throws IOException {
        String piece = "";
        float score = 0;
        int type = 1;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag) {
                case (1 << 3) | 2: piece = in.readStringRequireUtf8(); break;
                case (2 << 3) | 5: score = in.readFloat(); break;
                case (3 << 3): type = in.readEnum(); break;
                default: in.skipField(tag);
            }
        }
        return new Piece(piece, score, PieceType.of(type));
    }

    private static void readTrainerSpec(CodedInputStream in, Builder b) throws IOException {
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag) {
                case (3 << 3): b.modelType = in.readEnum(); break;
                case (24 << 3): b.treatWhitespaceAsSuffix = in.readBool(); break;
                case (35 << 3): b.byteFallback = in.readBool(); break;
                case (40 << 3): b.unkId = in.readInt32(); break;
                case (41 << 3): b.bosId = in.readInt32(); break;
                case (42 << 3): b.eosId = in.readInt32(); break;
                case (43 << 3): b.padId = in.readInt32(); break;
                case (44 << 3) | 2: b.unkSurface = in.readStringRequireUtf8(); break;
                default: in.skipField(tag);
            }
        }
    }

    private static void readNormalizerSpec(CodedInputStream in, Builder b) throws IOException {
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (tag) {
                case (1 << 3) | 2: b.normalizerName = in.readStringRequireUtf8(); break;
                case (2 << 3) | 2: b.charsmapLength = in.readBytes().size(); break;
                case (3 << 3): b.addDummyPrefix = in.readBool(); break;
                case (4 << 3): b.removeExtraWhitespaces = in.readBool(); break;
                case (5 << 3): b.escapeWhitespaces = in.readBool(); break;
                default: in.skipField(tag);
            }
        }
    }

    /** Field defaults as sentencepiece_model.proto declares them. */
    private static final class Builder {
        final List<Piece> pieces = new ArrayList<>();
        int modelType = UNIGRAM;
        boolean byteFallback;
        int unkId = 0;
        int bosId = 1;
        int eosId = 2;
        int padId = -1;
        String unkSurface = " \u2047 ";
        boolean treatWhitespaceAsSuffix;
        String normalizerName = "";
        int charsmapLength;
        boolean addDummyPrefix = true;
        boolean removeExtraWhitespaces = true;
        boolean escapeWhitespaces = true;
    }

    /**
     * The pieces in id order (a piece's index is its token id).
     *
     * @return the pieces
     */
    public List<Piece> pieces() {
        return pieces;
    }

    /** {@code trainer_spec.model_type}: {@link #UNIGRAM}, {@link #BPE}, 3 (word) or 4 (char). */
    public int modelType() {
        return modelType;
    }

    /**
     * {@code trainer_spec.byte_fallback}: unknown characters are encoded as {@code <0xNN>} byte pieces.
     *
     * @return whether byte fallback is on
     */
    public boolean byteFallback() {
        return byteFallback;
    }

    /**
     * {@code trainer_spec.unk_id}: the id of the unknown piece.
     *
     * @return the id
     */
    public int unkId() {
        return unkId;
    }

    /** The bos id, or -1 when the model has none. */
    public int bosId() {
        return bosId;
    }

    /** The eos id, or -1 when the model has none. */
    public int eosId() {
        return eosId;
    }

    /** The pad id, or -1 when the model has none. */
    public int padId() {
        return padId;
    }

    /** What an unknown piece decodes to ({@code trainer_spec.unk_surface}, " ⁇ " by default). */
    public String unkSurface() {
        return unkSurface;
    }

    /**
     * {@code trainer_spec.treat_whitespace_as_suffix}: the whitespace marker ends a piece instead of starting it.
     *
     * @return the flag
     */
    public boolean treatWhitespaceAsSuffix() {
        return treatWhitespaceAsSuffix;
    }

    /** {@code normalizer_spec.name} (e.g. identity, nmt_nfkc). */
    public String normalizerName() {
        return normalizerName;
    }

    /** The size of {@code normalizer_spec.precompiled_charsmap} (0 for the identity normalizer). */
    public int precompiledCharsmapLength() {
        return precompiledCharsmapLength;
    }

    /**
     * {@code normalizer_spec.add_dummy_prefix}: a whitespace marker is prepended to the text.
     *
     * @return the flag
     */
    public boolean addDummyPrefix() {
        return addDummyPrefix;
    }

    /**
     * {@code normalizer_spec.remove_extra_whitespaces}: leading, trailing and repeated whitespace is removed.
     *
     * @return the flag
     */
    public boolean removeExtraWhitespaces() {
        return removeExtraWhitespaces;
    }

    /**
     * {@code normalizer_spec.escape_whitespaces}: spaces become the marker U+2581.
     *
     * @return the flag
     */
    public boolean escapeWhitespaces() {
        return escapeWhitespaces;
    }
}
