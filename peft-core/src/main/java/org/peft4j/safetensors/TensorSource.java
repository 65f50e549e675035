package org.peft4j.safetensors;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.peft4j.tensor.Tensor;

/**
 * A read-only, lazily loaded collection of named tensors: one safetensors file ({@link SafeTensors}) or a sharded
 * checkpoint ({@link ShardedSafeTensors}).
 *
 * <p>Implementations are safe for concurrent reads. Tensors returned by {@link #get(String)} are views of memory
 * mappings; a mapping stays valid after {@link #close()} (closing releases the file handles, not the mappings, which
 * the garbage collector unmaps once no tensor refers to them).
 */
public interface TensorSource extends AutoCloseable {

    /** All tensor names, in the order documented by the implementation; unmodifiable. */
    List<String> keys();

    /** Whether a tensor of this name exists. */
    boolean contains(String name);

    /**
     * Header facts about a tensor, without mapping its data.
     *
     * @throws NoSuchElementException if there is no such tensor
     */
    TensorInfo info(String name);

    /**
     * The tensor as a zero-copy view of a read-only memory mapping of just its bytes.
     *
     * @throws NoSuchElementException if there is no such tensor
     * @throws SafeTensorsException   if the tensor cannot be mapped (e.g. it is 2 GiB or larger)
     * @throws org.peft4j.FileAccessException if mapping fails
     * @throws IllegalStateException  if the source is closed
     */
    Tensor get(String name);

    /** String metadata of the source (see the implementation); unmodifiable, possibly empty. */
    Map<String, String> metadata();

    /** Every tensor, mapped, in {@link #keys()} order (an insertion-ordered map). */
    default Map<String, Tensor> getAll() {
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String key : keys()) {
            all.put(key, get(key));
        }
        return all;
    }

    /** Releases the underlying file handles; idempotent. */
    @Override
    void close();
}
