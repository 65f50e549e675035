package org.peft4j.prefix;

import java.util.Random;
import org.peft4j.graph.Graph;
import org.peft4j.graph.Value;
import org.peft4j.nn.Activation;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Layer;
import org.peft4j.nn.Linear;
import org.peft4j.nn.Module;
import org.peft4j.nn.ModuleList;
import org.peft4j.tensor.DType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * P-tuning's encoder (PEFT's {@code PromptEncoder}): an {@code embedding} of the virtual tokens, reparameterized by
 * {@code mlp_head} (MLP: Linear(D,H)-ReLU-Linear(H,H)-ReLU-Linear(H,D)) or by {@code lstm_head} (a bidirectional LSTM)
 * then {@code mlp_head} (Linear(2H,2H)-ReLU-Linear(2H,D)). In inference mode (a loaded adapter) only the embedding
 * exists and holds the saved output. Not thread-safe.
 */
public final class PromptEncoder extends Module {
    private static final Logger LOG = LoggerFactory.getLogger(PromptEncoder.class);

    private final Embedding embedding;
    private final LstmHead lstmHead;
    private final ModuleList mlpHead;
    private final int total;

    /** The encoder of {@code config} (prepared), initialised as PyTorch initialises its layers, in float32. */
    PromptEncoder(PromptEncoderConfig config, Random rng) {
        this(config, rng, DType.F32);
    }

    /** The same in {@code dtype} (float64 for finite-difference checks). */
    PromptEncoder(PromptEncoderConfig config, Random rng, DType dtype) {
        this.total = config.numVirtualTokens() * config.numTransformerSubmodules();
        long d = config.tokenDim();
        long h = config.encoderHiddenSize();
        embedding = registerModule("embedding", new Embedding(total, d, dtype));
        embedding.weight().setData(PromptLearningBase.normal(rng, total, d).to(dtype));
        if (config.inferenceMode()) {
            lstmHead = null;
            mlpHead = null;
            return;
        }
        if (config.encoderReparameterizationType() == PromptEncoderReparameterizationType.LSTM) {
            lstmHead = registerModule("lstm_head", new LstmHead(d, h, config.encoderNumLayers(),
                    config.encoderDropout(), rng, dtype));
            mlpHead = registerModule("mlp_head", new ModuleList());
            mlpHead.add(linear(2 * h, 2 * h, rng, dtype));
            mlpHead.add(new Activation("relu"));
            mlpHead.add(linear(2 * h, d, rng, dtype));
        } else {
            if (config.encoderNumLayers() != PromptEncoderConfig.DEFAULT_ENCODER_NUM_LAYERS) {
                LOG.warn("for MLP, the argument `encoder_num_layers` is ignored. Exactly {} MLP layers are used.",
                        PromptEncoderConfig.DEFAULT_ENCODER_NUM_LAYERS);
            }
            lstmHead = null;
            mlpHead = registerModule("mlp_head", new ModuleList());
            mlpHead.add(linear(d, h, rng, dtype));
            mlpHead.add(new Activation("relu"));
            mlpHead.add(linear(h, h, rng, dtype));
            mlpHead.add(new Activation("relu"));
            mlpHead.add(linear(h, d, rng, dtype));
        }
    }

    /** PyTorch's Linear init: weight and bias uniform in +-1/sqrt(in). */
    private static Linear linear(long in, long out, Random rng, DType dtype) {
        Linear l = new Linear(in, out, true, dtype);
        double bound = 1.0 / Math.sqrt(in);
        l.weight().setData(LstmHead.uniform(rng, bound, dtype, out, in).data());
        l.bias().setData(LstmHead.uniform(rng, bound, dtype, out).data());
        return l;
    }

    /** The {@code embedding} (in inference mode, the virtual tokens themselves). */
    public Embedding embedding() {
        return embedding;
    }

    /** Whether the encoder has its MLP / LSTM head (false for a loaded, inference-mode adapter). */
    public boolean hasHead() {
        return mlpHead != null;
    }

    /**
     * The virtual tokens {@code [1, total, token_dim]}: the head's output, or the embedding in inference mode. The
     * heads run on the 2-D {@code [total, token_dim]} rows (plain Gemms, no Reshape: on a graph whose shapes are all
     * static ONNX Runtime's optimizer fails on the folded Reshapes of a 3-D Linear).
     */
    Value forward(Graph g) {
        Value x = g.param(embedding.weight());
        if (mlpHead != null) {
            if (lstmHead != null) {
                x = lstmHead.forward(g, x, total);
            }
            for (Module m : mlpHead.modules()) {
                x = ((Layer) m).forward(g, x);
            }
        }
        return g.unsqueeze(x, 0);
    }
}
