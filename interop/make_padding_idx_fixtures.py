#!/usr/bin/env python3
"""torch's padding_idx in training (issue 14): the embedding's padding row gets no gradient, also through PEFT.

Run: interop/.venv/bin/python interop/make_padding_idx_fixtures.py
Writes interop/fixtures/padding-idx/:
  model/                 the tiny Llama of fixtures/models/llama-mha with pad_token_id 2 (= its eos), so
                         LlamaModel.embed_tokens is nn.Embedding(..., padding_idx=2)
  save/adapter/          PEFT 0.21.2 LoRA (q_proj, v_proj; random A and B) with modules_to_save=["embed_tokens"]
  lora-embed/adapter/    PEFT LoRA on embed_tokens and q_proj (random A and B): lora.Embedding passes padding_idx
  <case>/expected.safetensors  input_ids (the pad id 2 among them), labels, the loss and grad.<PEFT name> of every
                         trainable tensor for one training step
"""
import os
import shutil
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "fixtures", "models", "llama-mha")
OUT = os.path.join(HERE, "fixtures", "padding-idx")
CASES = {
    "save": dict(target_modules=["q_proj", "v_proj"], modules_to_save=["embed_tokens"]),
    "lora-embed": dict(target_modules=["embed_tokens", "q_proj"]),
}


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    cfg = AutoConfig.from_pretrained(SRC)
    cfg.pad_token_id = 2
    base = AutoModelForCausalLM.from_pretrained(SRC, config=cfg, attn_implementation="eager")
    assert base.model.embed_tokens.padding_idx == 2
    base.save_pretrained(os.path.join(OUT, "model"))
    ids = torch.tensor([[5, 2, 9, 13, 2, 7], [2, 11, 3, 2, 8, 4]])
    labels = ids.clone()
    for name, kw in CASES.items():
        model = AutoModelForCausalLM.from_pretrained(os.path.join(OUT, "model"), attn_implementation="eager")
        torch.manual_seed(3)
        pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False, **kw))
        if name == "save":
            with torch.no_grad():  # make the trainable copy differ from the frozen original
                w = pm.base_model.model.model.embed_tokens.modules_to_save["default"].weight
                w.add_(0.01 * torch.randn(w.shape, generator=torch.Generator().manual_seed(4)))
        pm.save_pretrained(os.path.join(OUT, name, "adapter"))
        again = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(os.path.join(OUT, "model"), attn_implementation="eager"),
            os.path.join(OUT, name, "adapter"), is_trainable=True)
        again.train()
        out = again(input_ids=ids, labels=labels)
        out.loss.backward()
        t = {"input_ids": ids, "labels": labels, "loss": out.loss.detach().reshape(())}
        for n, p in again.named_parameters():
            if p.requires_grad:
                t["grad." + n] = p.grad.detach().clone()
        pad_rows = [n for n in t if n.startswith("grad.") and "embed" in n]
        for n in pad_rows:
            g = t[n]
            if "lora_embedding_A" in n:
                assert torch.all(g[:, 2] == 0), n
            elif "modules_to_save" in n:
                assert torch.all(g[2] == 0), n
        save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(OUT, name, "expected.safetensors"))
        print(name, sorted(k for k in t if k.startswith("grad."))[:6], float(out.loss))


if __name__ == "__main__":
    main()
