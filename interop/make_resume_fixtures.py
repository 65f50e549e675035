#!/usr/bin/env python3
"""Prompt-learning generation fixtures (PEFT -> Java) for peft4j's resume/generation tests.

Run with the interop venv's python:  /work/main/interop/.venv/bin/python interop/make_resume_fixtures.py
Loads the PEFT-saved adapters already committed in ``interop/fixtures/ptune/<case>/adapter`` and
``interop/fixtures/prefix/<case>/adapter`` onto their tiny fixture models and writes
``interop/fixtures/prompt-generate/<case>.safetensors``:

  input_ids, attention_mask  int64 [2, 7]: two prompts of lengths 7 and 4, the second LEFT-padded with 0
  generated                  int64 [2, 7 + k]: PeftModel.generate(..., max_new_tokens=10, do_sample=False,
                             pad_token_id=0) with the cache (a row that ends with eos is padded with 0)
  base_generated             the same through the base model alone (the adapter changes the tokens)

and ``cases.json`` (case -> adapter folder, model). Deterministic: fixed seed, CPU, one thread.
"""

import json
import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
OUT = os.path.join(FIX, "prompt-generate")

CASES = {
    "pt-llama": ("ptune/pt-llama/adapter", "llama-gqa"),
    "pt-gpt2": ("ptune/pt-gpt2/adapter", "gpt2"),
    "ptun-mlp-llama": ("ptune/ptun-mlp-llama/adapter", "llama-gqa"),
    "prefix-llama-gqa": ("prefix/llama-gqa/adapter", "llama-gqa"),
    "prefix-gpt2-projection": ("prefix/gpt2-projection/adapter", "gpt2"),
    "prefix-qwen2": ("prefix/qwen2/adapter", "qwen2"),
}


def base(name):
    m = AutoModelForCausalLM.from_pretrained(os.path.join(FIX, "models", name), attn_implementation="eager",
                                             dtype=torch.float32)
    m.eval()
    return m


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    index = {}
    for case, (adapter, model) in CASES.items():
        b = base(model)
        vocab = b.config.vocab_size
        g = torch.Generator().manual_seed(13)
        ids = torch.randint(3, min(vocab, 120), (2, 7), generator=g)
        mask = torch.ones_like(ids)
        ids[1, :3] = 0
        mask[1, :3] = 0
        with torch.no_grad():
            base_gen = b.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False,
                                  pad_token_id=0)
        pm = PeftModel.from_pretrained(base(model), os.path.join(FIX, adapter))
        pm.eval()
        with torch.no_grad():
            gen = pm.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False,
                              pad_token_id=0)
        assert not torch.equal(gen, base_gen), case
        save_file({"input_ids": ids, "attention_mask": mask, "generated": gen.contiguous(),
                   "base_generated": base_gen.contiguous()}, os.path.join(OUT, case + ".safetensors"))
        index[case] = {"adapter": adapter, "model": model}
        print(case, gen.tolist())
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
