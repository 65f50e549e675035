#!/usr/bin/env python3
"""Prefix-tuning interop fixtures (PEFT -> Java) for peft4j.

Run with the interop venv's python:  /work/main/interop/.venv/bin/python interop/make_prefix_fixtures.py
Reads the committed tiny models in ``interop/fixtures/models/<name>`` and writes, for every case below,
``interop/fixtures/prefix/<case>/``:

  adapter/                exactly what PeftModel.save_pretrained(adapter/) writes (adapter_config.json,
                          adapter_model.safetensors = {"prompt_embeddings": [n, num_layers*2*token_dim]})
  expected.safetensors    input_ids, attention_mask, labels (int64 [2, 7], row 1 left-padded by 2);
                          param.<name>: the trainable prompt-encoder parameters (PEFT names) of the trained model;
                          logits (float32 [2, 7, V]) of that model (eval, no position ids);
                          loaded_logits: the same batch through PeftModel.from_pretrained(adapter/);
                          base_logits: the base model alone;
                          loss and grad.<name>: one training step (labels, no dropout) of the trainable model;
                          gen_input_ids, gen_attention_mask (int64 [2, 5]), generated (greedy, max_new_tokens 6,
                          cache on, pad_token_id 0) from the loaded adapter
  f16.safetensors         (llama-gqa only) loaded_logits and base_logits with a float16 base (float16 [2, 7, V])
  case.json               model, trainable / all parameter counts (get_nb_trainable_parameters), trainable
                          parameter names, saved keys and shapes

and ``interop/fixtures/prefix/configs.json``: PEFT's default PrefixTuningConfig as saved, and the fields
_prepare_prompt_learning_config fills for each fixture model (GQA: token_dim = head_dim * num_key_value_heads).

Deterministic: fixed seed per case, CPU, one thread.
"""

import json
import os
import shutil
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PeftModel, PrefixTuningConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "fixtures", "models")
OUT = os.path.join(HERE, "fixtures", "prefix")

NVT = 3
CASES = [
    ("llama-gqa", "llama-gqa", dict()),
    ("gpt2", "gpt2", dict()),
    ("llama-gqa-projection", "llama-gqa", dict(prefix_projection=True, encoder_hidden_size=16)),
    ("gpt2-projection", "gpt2", dict(prefix_projection=True, encoder_hidden_size=16)),
    ("qwen2", "qwen2", dict()),
]


def base(name):
    m = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, name), attn_implementation="eager",
                                             dtype=torch.float32)
    # no dropout: the Java inference graphs (and the gradient reference) have none
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
    m.eval()
    return m


def batch(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (2, 7), generator=g)
    ids[1, :2] = 0
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :2] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[:, 2] = -100
    gen = torch.randint(3, vocab, (2, 5), generator=g)
    gen[1, :1] = 0
    gmask = torch.ones(2, 5, dtype=torch.long)
    gmask[1, :1] = 0
    return ids, mask, labels, gen, gmask


def make(case, model_name, kw, seed):
    out = os.path.join(OUT, case)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    torch.manual_seed(seed)
    b = base(model_name)
    ids, mask, labels, gen, gmask = batch(b.config.vocab_size, seed)
    with torch.no_grad():
        base_logits = b(input_ids=ids, attention_mask=mask).logits
    cfg = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=NVT, **kw)
    pm = get_peft_model(b, cfg)
    trainable, total = pm.get_nb_trainable_parameters()
    params = {n: p.detach().clone().contiguous() for n, p in pm.named_parameters() if p.requires_grad}
    # one training step: loss and gradients of the prompt encoder (no dropout anywhere)
    pm.train()
    res = pm(input_ids=ids, attention_mask=mask, labels=labels)
    res.loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in pm.named_parameters() if p.requires_grad}
    pm.eval()
    with torch.no_grad():
        logits = pm(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(res.logits.detach(), logits, atol=1e-5)
    assert (logits - base_logits).abs().max() > 1e-2, "the prefix has no effect"
    pm.peft_config["default"].base_model_name_or_path = "interop/fixtures/models/" + model_name
    pm.save_pretrained(os.path.join(out, "adapter"))
    # reload as PEFT does (inference mode: a plain embedding holding the saved prompt_embeddings)
    loaded = PeftModel.from_pretrained(base(model_name), os.path.join(out, "adapter"))
    loaded.eval()
    with torch.no_grad():
        loaded_logits = loaded(input_ids=ids, attention_mask=mask).logits
        generated = loaded.generate(input_ids=gen, attention_mask=gmask, max_new_tokens=6, do_sample=False,
                                    pad_token_id=0)
    assert (loaded_logits - logits).abs().max() < 1e-5
    # the cache changes nothing: greedy by full forwards over the growing sequence gives the same tokens
    seq, m = gen.clone(), gmask.clone()
    done = torch.zeros(2, dtype=torch.bool)
    eos = b.config.eos_token_id
    with torch.no_grad():
        for _ in range(6):
            pos = (m.cumsum(-1) - 1).clamp(min=0)
            nxt = loaded(input_ids=seq, attention_mask=m, position_ids=pos).logits[:, -1].argmax(-1)
            nxt = torch.where(done, torch.zeros_like(nxt), nxt)
            done |= nxt == eos
            seq = torch.cat([seq, nxt[:, None]], 1)
            m = torch.cat([m, torch.ones(2, 1, dtype=torch.long)], 1)
            if done.all():
                break
    assert torch.equal(seq, generated), (seq, generated)
    t = {"input_ids": ids, "attention_mask": mask, "labels": labels, "logits": logits.contiguous(),
         "loaded_logits": loaded_logits.contiguous(), "base_logits": base_logits.contiguous(),
         "loss": res.loss.detach().reshape(()), "gen_input_ids": gen, "gen_attention_mask": gmask,
         "generated": generated}
    for n, v in params.items():
        t["param." + n] = v
    for n, v in grads.items():
        t["grad." + n] = v
    save_file(t, os.path.join(out, "expected.safetensors"),
              metadata={"torch": torch.__version__, "transformers": transformers.__version__,
                        "peft": peft.__version__})
    from safetensors import safe_open
    with safe_open(os.path.join(out, "adapter", "adapter_model.safetensors"), "pt") as f:
        saved = {k: list(f.get_tensor(k).shape) for k in f.keys()}
    info = {"model": model_name, "trainable": trainable, "all": total, "trainable_names": list(params),
            "saved": saved}
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    if case == "llama-gqa":
        # a float16 base: get_prompt casts the float32 prefix to the base dtype
        b16 = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, model_name), attn_implementation="eager",
                                                   dtype=torch.float16)
        l16 = PeftModel.from_pretrained(b16, os.path.join(out, "adapter"))
        l16.eval()
        with torch.no_grad():
            f16 = l16(input_ids=ids, attention_mask=mask).logits
            base16 = b16(input_ids=ids, attention_mask=mask).logits
        save_file({"loaded_logits": f16.contiguous(), "base_logits": base16.contiguous()},
                  os.path.join(out, "f16.safetensors"))
    print(case, "trainable", trainable, "all", total, "loss", float(res.loss), "saved", saved)


def configs():
    """configs.json: PEFT's default PrefixTuningConfig as save_pretrained writes it, and the fields
    _prepare_prompt_learning_config fills for each fixture model (with and without an explicit encoder_hidden_size)."""
    from peft.utils.other import _prepare_prompt_learning_config
    d = os.path.join(OUT, "defaults")
    shutil.rmtree(d, ignore_errors=True)
    PrefixTuningConfig().save_pretrained(d)
    with open(os.path.join(d, "adapter_config.json")) as f:
        out = {"defaults": json.load(f), "filled": {}}
    shutil.rmtree(d)
    keys = ["num_layers", "token_dim", "num_attention_heads", "num_transformer_submodules", "encoder_hidden_size"]
    for name in ["llama-gqa", "llama-mha", "qwen2", "mistral", "gpt2"]:
        mc = transformers.AutoConfig.from_pretrained(os.path.join(MODELS, name))
        for kw in (dict(), dict(encoder_hidden_size=7)):
            c = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3, **kw)
            c = _prepare_prompt_learning_config(c, mc)
            if c.num_transformer_submodules is None:  # set by PeftModel._setup_prompt_encoder
                c.num_transformer_submodules = 1
            out["filled"][name + ("-ehs7" if kw else "")] = {k: getattr(c, k) for k in keys}
    with open(os.path.join(OUT, "configs.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    wanted = sys.argv[1:]
    os.makedirs(OUT, exist_ok=True)
    configs()
    for i, (case, model_name, kw) in enumerate(CASES):
        if not wanted or case in wanted:
            make(case, model_name, kw, 1000 + i)


if __name__ == "__main__":
    main()
