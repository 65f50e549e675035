#!/usr/bin/env python3
"""Mixed-batch LoRA inference fixtures (PEFT's per-call ``adapter_names``) for peft4j.

Writes ``interop/fixtures/mixed-batch/<model>/`` for the tiny llama-mha and gpt2 fixture models:
  a/, b/                 two LoRA adapters (PeftModel.save_pretrained) of different r/alpha, random (non-zero) B,
                         on attention/MLP linears (Conv1D for GPT-2) and the token embedding
  expected.safetensors   input_ids [4, 6]; logits = model(input_ids, adapter_names=["a","b","__base__","a"]);
                         logits_a / logits_b / logits_base (every row with one adapter / none);
                         generated = generate(max_new_tokens=5, greedy, adapter_names=...) [4, 11]
Rerun: /work/main/interop/.venv/bin/python interop/make_mixed_batch_fixtures.py
"""
import os
import shutil

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ["a", "b", "__base__", "a"]
CASES = {
    "llama-mha": (["q_proj", "v_proj", "down_proj", "embed_tokens"], ["k_proj", "o_proj", "up_proj", "embed_tokens"]),
    "gpt2": (["c_attn", "c_fc", "wte"], ["c_attn", "c_proj", "wte"]),
}

torch.manual_seed(0)
torch.set_num_threads(1)
for model_name, (ta, tb) in CASES.items():
    out = os.path.join(HERE, "fixtures", "mixed-batch", model_name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    src = os.path.join(HERE, "fixtures", "models", model_name)
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=ta, init_lora_weights=False), "a")
    pm.add_adapter("b", LoraConfig(r=8, lora_alpha=4, target_modules=tb, init_lora_weights=False))
    pm.save_pretrained(os.path.join(out, "tmp"), selected_adapters=["a", "b"])
    shutil.move(os.path.join(out, "tmp", "a"), os.path.join(out, "a")) if os.path.isdir(os.path.join(out, "tmp", "a")) else None
    # default-named layout: adapter "a" at tmp/, "b" at tmp/b
    if not os.path.isdir(os.path.join(out, "a")):
        os.makedirs(os.path.join(out, "a"))
        for f in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.move(os.path.join(out, "tmp", f), os.path.join(out, "a", f))
    shutil.move(os.path.join(out, "tmp", "b"), os.path.join(out, "b"))
    shutil.rmtree(os.path.join(out, "tmp"))
    for d in ("a", "b"):
        readme = os.path.join(out, d, "README.md")
        if os.path.exists(readme):
            os.remove(readme)
    pm = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32),
                                   os.path.join(out, "a"), adapter_name="a")
    pm.load_adapter(os.path.join(out, "b"), adapter_name="b")
    pm.eval()
    vocab = pm.config.vocab_size
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(1, vocab, (4, 6), generator=g)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        t = {"input_ids": ids, "logits": pm(input_ids=ids, attention_mask=mask, adapter_names=NAMES).logits}
        for n in ("a", "b", "__base__"):
            key = "logits_base" if n == "__base__" else "logits_" + n
            t[key] = pm(input_ids=ids, attention_mask=mask, adapter_names=[n] * 4).logits
        t["generated"] = pm.generate(input_ids=ids, attention_mask=mask, adapter_names=NAMES, max_new_tokens=5,
                                     do_sample=False, min_new_tokens=5, eos_token_id=None, pad_token_id=0)
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(out, "expected.safetensors"))
    print(model_name, {k: tuple(v.shape) for k, v in t.items()})
