package org.peft4j.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.DType;

/** Checkpoint marks add no node; a copied node keeps its op, attributes, stop-gradient flag and annotations. */
class GraphCheckpointTest {
    record Note(String text) {
    }

    @Test
    void marksAddNothingAndCopiesKeepWhatPassesRead() {
        Graph g = new Graph();
        Value x = g.input("x", DType.F32, Dim.of("n"), Dim.of(4));
        Value y = g.softmax(x, -1);
        int nodes = g.size();
        assertThat(g.checkpoint(y)).isSameAs(y);
        g.checkpoint(y);
        assertThat(g.size()).isEqualTo(nodes);
        assertThat(g.checkpoints()).containsExactly(y);
        assertThatThrownBy(() -> new Graph().checkpoint(y)).hasMessageContaining("another graph");

        Value z = g.stopGradient(y);
        g.annotate(z.producer(), Note.class, new Note("kept"));
        Graph h = new Graph();
        Value in = h.input("in", DType.F32, Dim.of("n"), Dim.of(4));
        Node soft = h.copyNode(y.producer(), List.of(in));
        assertThat(soft.opType()).isEqualTo("Softmax");
        assertThat(soft.attributes()).containsEntry("axis", -1L);
        assertThat(soft.output(0).shape()).isEqualTo(y.shape());
        assertThat(h.isStopGradient(soft)).isFalse();
        Node stop = h.copyNode(z.producer(), List.of(soft.output(0)));
        assertThat(h.isStopGradient(stop)).isTrue();
        assertThat(h.annotation(stop, Note.class)).isEqualTo(new Note("kept"));
        assertThat(stop.input(0)).isSameAs(soft.output(0));
    }
}
