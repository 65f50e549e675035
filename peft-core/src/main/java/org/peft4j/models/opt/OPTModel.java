package org.peft4j.models.opt;

import org.peft4j.nn.Module;
import org.peft4j.tensor.DType;

/** transformers' {@code OPTModel}: holds the {@code decoder}. */
public class OPTModel extends Module {
    OPTModel(OPTConfig c, DType dtype) {
        registerModule("decoder", new OPTDecoder(c, dtype));
    }
}
