package org.peft4j.autodiff;

import java.util.List;
import org.peft4j.graph.Node;
import org.peft4j.graph.Value;

/**
 * The backward of one op (see {@link OpDef}) or of one node (see {@link Autodiff#customBackward}): the gradient of
 * the loss with respect to one input of a node, built from standard ONNX ops appended through {@code c}.
 *
 * <p>{@link Autodiff} calls the rule once per input that needs a gradient (a floating input that depends on a value
 * being differentiated and that the loss depends on), so a rule may be asked for any input index; it returns null
 * for inputs that get no gradient (indices, shapes, conditions).
 */
@FunctionalInterface
public interface GradientRule {
    /**
     * The gradient with respect to {@code n.input(input)}, with that input's dtype and shape.
     *
     * @param c helpers and the graph to append backward nodes to
     * @param n the forward node
     * @param dOut the gradients of the loss with respect to {@code n}'s outputs, one per output in order; an entry is
     *     null when that output does not reach the loss (at least one entry is non-null)
     * @param input the index of the input to differentiate
     * @return the gradient, or null when none flows to that input
     */
    Value apply(GradientContext c, Node n, List<Value> dOut, int input);
}
