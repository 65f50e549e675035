"""Float16 logits of the tiny ChatGLM (fixtures/chatglm/model) from THUDM's modeling_chatglm.py run in float16 on the
CPU, for peft-core ChatGLMHalfPrecisionTest.

Run in the SEPARATE ChatGLM virtualenv (interop/requirements-chatglm.txt, see interop/README.md):
    CHATGLM_REF=/work/chatglm-ref /work/chatglm-venv/bin/python interop/make_chatglm_half_fixtures.py
Loads the committed model in float32 and, as THUDM's README does, .half() and runs one batch of 2 rows, the second left-padded
by 3 (pad id 0). Writes fixtures/chatglm/half.safetensors with
  input_ids, attention_mask  int64 [2, 7]
  logits_f16                 float32 [2, 7, 512]: the float16 model's logits (float16, widened exactly)
  logits_f32                 float32 [2, 7, 512]: the same batch in float32, for scale
modeling_chatglm keeps its own float32 islands in half precision (RMSNorm's variance, the softmax with
attention_softmax_in_fp32, the rotary cache in the activations' dtype); it runs on the CPU with torch 2.15.
"""
import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""
import torch  # noqa: E402

sys.path.insert(0, os.environ.get("CHATGLM_REF", "/work/chatglm-ref"))
from chatglm_ref.modeling_chatglm import ChatGLMForConditionalGeneration  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "fixtures", "chatglm", "model")
SEQ, PADS = 7, 3


def main(out):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    g = torch.Generator().manual_seed(4321)
    ids = torch.randint(3, 512, (2, SEQ), generator=g)
    ids[1, :PADS] = 0
    mask = torch.ones(2, SEQ, dtype=torch.long)
    mask[1, :PADS] = 0
    t = {"input_ids": ids, "attention_mask": mask}
    for key, dt in [("f32", torch.float32), ("f16", torch.float16)]:
        # .half() as THUDM's README loads ChatGLM (AutoModel.from_pretrained(...).half()): every parameter and
        # buffer (the rotary inv_freq included) rounded to float16
        m = ChatGLMForConditionalGeneration.from_pretrained(SRC).to(dt).eval()
        assert all(p.dtype == dt for p in m.parameters()) and all(b.dtype == dt for b in m.buffers())
        with torch.no_grad():
            logits = m(input_ids=ids, attention_mask=mask).logits
        assert logits.dtype == dt, logits.dtype
        t["logits_" + key] = logits.float().contiguous()
    save_file(t, out, metadata={"torch": torch.__version__, "transformers": transformers.__version__})
    valid = mask.bool()
    d16 = (t["logits_f16"] - t["logits_f32"])[valid].abs().max().item()
    print(f"chatglm: max|logit| {t['logits_f32'][valid].abs().max().item():.3f}  f16-f32 {d16:.4g}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "chatglm", "half.safetensors"))
