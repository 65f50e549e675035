#!/usr/bin/env python3
"""QLoRA on the issue-14 families (Qwen3, Gemma 2, Phi-3, OPT): transformers + bitsandbytes + PEFT -> Java.

Run with the interop venv from the repository root:

    interop/.venv/bin/python interop/make_qlora_family_fixtures.py [OUT]   (OUT defaults to interop/fixtures/qlora-families)

For every committed tiny model interop/fixtures/models/{qwen3,gemma2,phi3,opt,opt-proj} the float checkpoint is
quantized at load by transformers (BitsAndBytesConfig nf4, double quant, compute dtype float32; bitsandbytes'
portable path forced by interop/bnb_portable.py), and the script writes OUT/<family>/:
  base/                     the 4-bit model as transformers saves it (packed weights and quant states)
  case.json                 the module names that became Linear4bit, PEFT's parameter counts and its printout
  adapter/                  a LoRA adapter (r 4, alpha 8, target_modules "all-linear", random A and B) saved by PEFT on
                            the 4-bit base (reloaded from base/) after prepare_model_for_kbit_training
  expected.safetensors      input_ids / attention_mask (row 1 left-padded) / labels, base_logits of the 4-bit model,
                            lora_logits with the adapter, and the loss and grad.<PEFT name> of every LoRA tensor for
                            one training step
CPU only, one thread, fixed seeds.
"""

import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
if os.environ.get("PYTHONHASHSEED") != "0":  # PEFT writes target_modules (a set) in set-iteration order
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_portable  # noqa: E402  (before bitsandbytes)

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402

import bitsandbytes as bnb  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = ["qwen3", "gemma2", "phi3", "opt", "opt-proj"]


def load4(path):
    qc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                            bnb_4bit_compute_dtype=torch.float32)
    m = AutoModelForCausalLM.from_pretrained(path, quantization_config=qc, device_map="cpu", dtype=torch.float32,
                                             attn_implementation="eager")
    bnb_portable.assert_portable()
    return m


def build(name, out):
    src = os.path.join(HERE, "fixtures", "models", name)
    folder = os.path.join(out, name)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    info = {}
    m4 = load4(src).eval()
    m4.save_pretrained(os.path.join(folder, "base"))
    info["linear4bit"] = sorted(n for n, m in m4.named_modules() if isinstance(m, bnb.nn.Linear4bit))
    vocab = m4.config.vocab_size
    g = torch.Generator().manual_seed(11)
    ids = torch.randint(3, vocab, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :2] = 0
    pad = m4.config.pad_token_id if m4.config.pad_token_id is not None else 0
    ids[1, :2] = pad
    labels = ids.clone()
    labels[mask == 0] = -100
    with torch.no_grad():
        base_logits = m4(input_ids=ids, attention_mask=mask).logits

    base = prepare_model_for_kbit_training(load4(os.path.join(folder, "base")), use_gradient_checkpointing=False)
    torch.manual_seed(12)
    pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0,
                                         init_lora_weights=False, task_type="CAUSAL_LM"))
    info["trainable"], info["all"] = pm.get_nb_trainable_parameters()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        pm.print_trainable_parameters()
    info["print_trainable_parameters"] = buf.getvalue().strip()
    info["lora_modules"] = sorted(n for n, m in pm.named_modules() if hasattr(m, "lora_A") and
                                  type(m).__name__ == "Linear4bit")
    pm.save_pretrained(os.path.join(folder, "adapter"))
    pm.train()
    outp = pm(input_ids=ids, attention_mask=mask, labels=labels)
    outp.loss.backward()
    t = {"input_ids": ids, "attention_mask": mask, "labels": labels, "base_logits": base_logits,
         "loss": outp.loss.detach().reshape(())}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            assert "lora_" in n, n
            t["grad." + n] = p.grad.detach().clone()
    pm.eval()
    with torch.no_grad():
        t["lora_logits"] = pm(input_ids=ids, attention_mask=mask).logits
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(folder, "expected.safetensors"))
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")
    print(name, len(info["linear4bit"]), "Linear4bit,", info["print_trainable_parameters"])


def main(out):
    for name in FAMILIES:
        build(name, out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "qlora-families"))
