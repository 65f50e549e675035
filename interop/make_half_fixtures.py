"""Half-precision logits of the tiny fixture models (llama-mha, qwen2, gpt2), for peft4j's HalfPrecisionParityTest.

Loads each committed model folder fixtures/models/<name> with torch_dtype float16 and bfloat16 (eager attention, CPU)
and runs one left-padded batch of 2 rows. Writes fixtures/half/<name>.safetensors with
  input_ids, attention_mask  int64 [2, 7] (row 1 has 3 leading pads, pad id 0)
  logits_f16, logits_bf16    float32 [2, 7, vocab]: the half-precision logits, widened exactly to float32
  logits_f32                 float32 [2, 7, vocab]: the same batch in float32, for scale
Rerun:  interop/.venv/bin/python interop/make_half_fixtures.py
"""
import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
NAMES = ["llama-mha", "qwen2", "gpt2"]
SEQ, PADS = 7, 3


def main(out):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    for name in NAMES:
        d = os.path.join(FIX, "models", name)
        t = {}
        for key, dt in [("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)]:
            m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=dt, attn_implementation="eager").eval()
            if "input_ids" not in t:
                ids = torch.randint(1, m.config.vocab_size, (2, SEQ), generator=g)
                ids[1, :PADS] = 0
                mask = torch.ones(2, SEQ, dtype=torch.long)
                mask[1, :PADS] = 0
                t["input_ids"], t["attention_mask"] = ids, mask
            with torch.no_grad():
                logits = m(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).logits
            assert logits.dtype == dt, (name, logits.dtype)
            t["logits_" + key] = logits.float().contiguous()
        save_file(t, os.path.join(out, name + ".safetensors"),
                  metadata={"torch": torch.__version__, "transformers": __import__("transformers").__version__})
        d16 = (t["logits_f16"] - t["logits_f32"]).abs().max().item()
        db16 = (t["logits_bf16"] - t["logits_f32"]).abs().max().item()
        print(f"{name}: max|logit| {t['logits_f32'].abs().max().item():.3f}  f16-f32 {d16:.4g}  bf16-f32 {db16:.4g}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIX, "half"))
