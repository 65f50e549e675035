#!/usr/bin/env python3
"""Prompt tuning and P-tuning reference fixtures (PEFT 0.21.2) for peft4j's peft-prefix tests.

For every case under ``interop/fixtures/ptune/<case>/`` this writes

  adapter/                     PEFT's save_pretrained output (adapter_config.json + adapter_model.safetensors)
  init.safetensors             the freshly initialised trainable parameters, by PEFT's names
                               (prompt_encoder.default.embedding.weight, ...mlp_head.0.weight, ...lstm_head...)
  reference.safetensors        input_ids, attention_mask (right padding), labels (first label -100, padding -100),
                               labels_full / loss_full / gradfull.* (the same step with the first label counted),
                               logits [B, T, V] (virtual positions dropped), loss [1] and grad.<name> for every
                               trainable parameter after one backward (train mode; GPT-2 loaded with its dropouts
                               set to 0, as the Java tests load it),
                               loaded_logits (PeftModel.from_pretrained(base, adapter/) on the same batch),
                               gen_input_ids [2, 5] and gen_output (greedy, up to 6 new tokens, prompt included;
                               a row that ends with eos is padded with 0)
  case.json                    model name, peft type, the config's arguments

The TEXT-init case also holds the tokenizer path it used (interop/fixtures/tokenizer, relative).

Usage:  interop/.venv/bin/python interop/make_ptune_fixtures.py [--out interop/fixtures/ptune] [--cases CASE ...]
(the venv at /work/main/interop/.venv works too).  Deterministic: fixed seeds, one thread.
"""

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402

import torch  # noqa: E402
from peft import (PeftModel, PromptEncoderConfig, PromptTuningConfig, get_peft_model)  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "fixtures", "models")
TOKENIZER = os.path.join(HERE, "fixtures", "tokenizer")

CASES = {
    "pt-llama": ("llama-gqa", "PROMPT_TUNING", dict(num_virtual_tokens=4)),
    "pt-gpt2": ("gpt2", "PROMPT_TUNING", dict(num_virtual_tokens=3)),
    "pt-text-gpt2": ("gpt2", "PROMPT_TUNING", dict(num_virtual_tokens=6, prompt_tuning_init="TEXT",
                                                   prompt_tuning_init_text="abc",
                                                   tokenizer_name_or_path=TOKENIZER)),
    "ptun-mlp-llama": ("llama-gqa", "P_TUNING", dict(num_virtual_tokens=4, encoder_hidden_size=32)),
    "ptun-mlp-gpt2": ("gpt2", "P_TUNING", dict(num_virtual_tokens=3, encoder_hidden_size=24)),
    "ptun-lstm-llama": ("llama-gqa", "P_TUNING", dict(num_virtual_tokens=4, encoder_hidden_size=16,
                                                      encoder_reparameterization_type="LSTM")),
    "ptun-lstm-gpt2": ("gpt2", "P_TUNING", dict(num_virtual_tokens=3, encoder_hidden_size=12,
                                                encoder_reparameterization_type="LSTM", encoder_num_layers=1)),
    # Gemma 2: its input embedding scales by sqrt(hidden) in its forward (Gemma2TextScaledWordEmbedding); PEFT's
    # TEXT init and the real tokens go through that forward, the virtual tokens (inputs_embeds) are not scaled again
    "pt-gemma2": ("gemma2", "PROMPT_TUNING", dict(num_virtual_tokens=3)),
    "pt-text-gemma2": ("gemma2", "PROMPT_TUNING", dict(num_virtual_tokens=6, prompt_tuning_init="TEXT",
                                                       prompt_tuning_init_text="abc",
                                                       tokenizer_name_or_path=TOKENIZER)),
    "ptun-mlp-gemma2": ("gemma2", "P_TUNING", dict(num_virtual_tokens=3, encoder_hidden_size=16)),
    "ptun-lstm-gemma2": ("gemma2", "P_TUNING", dict(num_virtual_tokens=3, encoder_hidden_size=12,
                                                    encoder_reparameterization_type="LSTM")),
}


def base(name):
    # GPT-2's fixture config has dropout 0.1: switched off (as the Java tests do) so one training step is
    # deterministic on both sides
    extra = dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0) if name == "gpt2" else {}
    return AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, name), attn_implementation="eager",
                                                dtype=torch.float32, **extra)


def make(case, out):
    model_name, ptype, kwargs = CASES[case]
    d = os.path.join(out, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    torch.manual_seed(1234)
    cls = PromptTuningConfig if ptype == "PROMPT_TUNING" else PromptEncoderConfig
    cfg = cls(task_type="CAUSAL_LM", **kwargs)
    pm = get_peft_model(base(model_name), cfg)
    pm.train()
    vocab = pm.base_model.config.vocab_size
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(3, min(vocab, 120), (2, 6), generator=g)
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[1, 4:] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[:, 0] = -100
    init = {k: v.detach().clone().contiguous() for k, v in pm.named_parameters() if v.requires_grad}
    save_file(init, os.path.join(d, "init.safetensors"))
    outp = pm(input_ids=ids, attention_mask=mask, labels=labels)
    outp.loss.backward()
    nvt = cfg.num_virtual_tokens
    ref = {"input_ids": ids, "attention_mask": mask, "labels": labels,
           "logits": outp.logits[:, nvt:].detach().contiguous(), "loss": outp.loss.detach().reshape(1)}
    for k, v in pm.named_parameters():
        if v.requires_grad:
            ref["grad." + k] = v.grad.detach().clone().contiguous()
    # the same step with the first label counted: PEFT's loss runs over the virtual positions too (labelled -100),
    # so the last virtual position predicts the first real token
    labels_full = ids.clone()
    labels_full[mask == 0] = -100
    pm.zero_grad()
    out_full = pm(input_ids=ids, attention_mask=mask, labels=labels_full)
    out_full.loss.backward()
    ref["labels_full"] = labels_full
    ref["loss_full"] = out_full.loss.detach().reshape(1)
    for k, v in pm.named_parameters():
        if v.requires_grad:
            ref["gradfull." + k] = v.grad.detach().clone().contiguous()
    pm.save_pretrained(os.path.join(d, "adapter"))
    os.remove(os.path.join(d, "adapter", "README.md"))   # PEFT's model card: machine paths, nothing to test
    loaded = PeftModel.from_pretrained(base(model_name), os.path.join(d, "adapter"))
    loaded.eval()
    with torch.no_grad():
        ref["loaded_logits"] = loaded(input_ids=ids, attention_mask=mask).logits[:, nvt:].contiguous()
        gen_ids = torch.randint(3, min(vocab, 120), (2, 5), generator=g)
        gen = loaded.generate(input_ids=gen_ids, attention_mask=torch.ones_like(gen_ids), max_new_tokens=6,
                              do_sample=False, pad_token_id=0)
    ref["gen_input_ids"] = gen_ids
    ref["gen_output"] = gen.contiguous()
    save_file(ref, os.path.join(d, "reference.safetensors"))
    meta = {"model": model_name, "peft_type": ptype,
            "config": {k: (os.path.relpath(v, HERE) if k == "tokenizer_name_or_path" else v)
                       for k, v in kwargs.items()},
            "versions": {"torch": torch.__version__, "peft": __import__("peft").__version__,
                         "transformers": __import__("transformers").__version__}}
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    # the saved config holds absolute paths of this machine (base model, TEXT's tokenizer); keep them relative to
    # interop/ so the committed file does not depend on where it was made
    cpath = os.path.join(d, "adapter", "adapter_config.json")
    with open(cpath) as f:
        c = json.load(f)
    if c.get("tokenizer_name_or_path"):
        c["tokenizer_name_or_path"] = os.path.relpath(c["tokenizer_name_or_path"], HERE)
    c["base_model_name_or_path"] = os.path.relpath(c["base_model_name_or_path"], HERE)
    with open(cpath, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")
    print(case, "loss", float(outp.loss), "gen", gen[:, 5:].tolist())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "ptune"))
    ap.add_argument("--cases", nargs="*", default=list(CASES), help="only these cases (default: all)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    for case in a.cases:
        make(case, a.out)


if __name__ == "__main__":
    main()
