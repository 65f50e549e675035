#!/usr/bin/env python3
"""Sliding-window attention fixtures (Mistral `sliding_window`, Qwen2 `use_sliding_window` / `layer_types`).

Writes interop/fixtures/sliding-window/ (nothing else; make_fixtures.py and make_lora_fixtures.py leave it alone):

  models/<name>/                 tiny random models, save_pretrained(safe_serialization=True), eager attention
  reference/<name>.safetensors   int64 input_ids [2, 11]; float32 logits [2, 11, V];
                                 padded_input_ids / padded_attention_mask [2, 11] (row 1 left-padded by 3),
                                 padded_logits;
                                 gen_prompt [1, 7], gen_output [1, 7 + 10] (greedy, eos never generated);
                                 genb_prompt / genb_mask [2, 7] (row 1 left-padded by 2), genb_output [2, 17];
                                 train_input_ids / train_attention_mask / train_labels [2, 11] (row 1 left-padded by
                                 2, labels -100 at pads and at the
                                 padded row's first real token), train_loss [] and train_grad.<name> for the q/k/v/o weights
                                 of every layer and the input embeddings (model.train(), no dropout)
  reference/<name>.json          layer_types, sliding_window, eos ids, observations
  layer_types.json               Qwen2Config / MistralConfig(**kwargs) -> (layer_types, sliding_window) for config
                                 dicts without layer_types (transformers' derivation rule)
  lora/<case>/                   PEFT-saved LoRA adapters on these models, in make_lora_fixtures.py's case format
                                 (adapter/, expected.safetensors with input_ids, attention_mask [2, 7] -> logits,
                                 base_logits; case.json). Their "model" names a folder of models/ here.

Transformers' rule (masking_utils.sliding_window_causal_mask_function): query i sees key j iff
j <= i and j > i - sliding_window (absolute cache indices, padding included), i.e. the last `sliding_window`
positions including itself. Mistral: every layer slides when config.sliding_window is not None. Qwen2:
sliding_window = sliding_window if use_sliding_window else None; layer_types from config.json, else
"sliding_attention" for layers i >= max_window_layers when sliding_window is not None.

Run: /work/main/interop/.venv/bin/python interop/make_sliding_window_fixtures.py (or interop/.venv/bin/python).
Deterministic (seeds, one thread, deterministic algorithms, PYTHONHASHSEED=0 like make_lora_fixtures.py).
"""
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":  # make_lora_fixtures' adapter_config.json list order
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

import json  # noqa: E402
import shutil  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402
import make_lora_fixtures as mlf  # noqa: E402

OUT = os.path.join(HERE, "fixtures", "sliding-window")
SEQ = 11
PAD_ROW1 = 3
GEN_PROMPT = 7
GEN_NEW = 10
GENB_PAD_ROW1 = 2
TRAIN_PAD_ROW1 = 2

COMMON = dict(bos_token_id=1, eos_token_id=2, attn_implementation="eager", vocab_size=128, hidden_size=32,
              intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
              rms_norm_eps=1e-6, hidden_act="silu")

SPECS = [
    # every layer slides, window 4
    ("mistral-swa", MistralConfig, MistralForCausalLM,
     dict(num_hidden_layers=2, sliding_window=4, rope_theta=10000.0, tie_word_embeddings=False, **COMMON)),
    # layer 0 full (i < max_window_layers), layers 1 and 2 slide with window 3
    ("qwen2-swa", Qwen2Config, Qwen2ForCausalLM,
     dict(num_hidden_layers=3, use_sliding_window=True, sliding_window=3, max_window_layers=1,
          rope_theta=1000000.0, tie_word_embeddings=True, **COMMON)),
]

LORA_CASES = [
    ("qwen2-swa-qvo", "qwen2-swa", dict(target_modules=["q_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"),
     {"notes": "LoRA on a Qwen2 with layer_types [full, sliding, sliding], sliding_window 3"}),
    ("mistral-swa-all-linear", "mistral-swa", dict(target_modules="all-linear", task_type="CAUSAL_LM"),
     {"notes": "LoRA on a Mistral with sliding_window 4"}),
]

LAYER_TYPE_CONFIGS = [
    ("qwen2", dict(num_hidden_layers=4)),
    ("qwen2", dict(num_hidden_layers=4, use_sliding_window=True)),
    ("qwen2", dict(num_hidden_layers=4, use_sliding_window=True, sliding_window=16, max_window_layers=2)),
    ("qwen2", dict(num_hidden_layers=4, use_sliding_window=True, sliding_window=16, max_window_layers=0)),
    ("qwen2", dict(num_hidden_layers=4, use_sliding_window=True, sliding_window=16, max_window_layers=4)),
    ("qwen2", dict(num_hidden_layers=4, use_sliding_window=False, sliding_window=16, max_window_layers=1)),
    ("qwen2", dict(num_hidden_layers=4, use_sliding_window=True, sliding_window=None, max_window_layers=1)),
    ("qwen2", dict(num_hidden_layers=3, use_sliding_window=True, sliding_window=8,
                   layer_types=["sliding_attention", "full_attention", "sliding_attention"])),
    ("mistral", dict(num_hidden_layers=3)),
    ("mistral", dict(num_hidden_layers=3, sliding_window=None)),
    ("mistral", dict(num_hidden_layers=3, sliding_window=5)),
]


def rand(g, shape, vocab):
    return torch.randint(3, vocab, shape, generator=g, dtype=torch.int64)


def left_pad(ids, n):
    ids = ids.clone()
    mask = torch.ones_like(ids)
    ids[1, :n] = mf.PAD_ID
    mask[1, :n] = 0
    return ids, mask


def greedy(model, prompt, eos, mask, new=GEN_NEW, use_cache=True):
    with torch.no_grad():
        return model.generate(prompt, attention_mask=mask, max_new_tokens=new, do_sample=False, eos_token_id=eos,
                              pad_token_id=mf.PAD_ID, num_beams=1, temperature=None, top_p=None, top_k=None,
                              use_cache=use_cache)


def absent_eos(model, prompt, mask):
    vocab = model.config.vocab_size
    for cand in range(vocab - 1, 2, -1):
        out = greedy(model, prompt, cand, mask)
        gen = out[:, prompt.shape[1]:]
        if gen.shape[1] == GEN_NEW and not (gen == cand).any():
            return cand, out
    raise RuntimeError("no absent eos")


def reference(name, model, seed):
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    t, info = {}, {}
    ids = rand(g, (2, SEQ), vocab)
    with torch.no_grad():
        t["logits"] = model(input_ids=ids).logits.float().contiguous()
    t["input_ids"] = ids
    pids, pmask = left_pad(rand(g, (2, SEQ), vocab), PAD_ROW1)
    with torch.no_grad():
        t["padded_logits"] = model(input_ids=pids, attention_mask=pmask).logits.float().contiguous()
    t["padded_input_ids"], t["padded_attention_mask"] = pids, pmask
    # observation: how much the window changes the logits (the bug this fixture guards against)
    full = type(model.config)(**{**model.config.to_dict(), "sliding_window": None, "layer_types": None})
    full._attn_implementation = "eager"
    nowin = type(model)(full).eval()
    nowin.load_state_dict(model.state_dict())
    with torch.no_grad():
        info["logits_vs_no_window_max_abs"] = float((nowin(input_ids=ids).logits - t["logits"]).abs().max())

    prompt = rand(g, (1, GEN_PROMPT), vocab)
    eos, out = absent_eos(model, prompt, torch.ones_like(prompt))
    t["gen_prompt"], t["gen_output"] = prompt, out
    info["gen_eos_token_id"] = eos
    info["gen_equals_no_cache_generation"] = bool(torch.equal(
        out, greedy(model, prompt, eos, torch.ones_like(prompt), use_cache=False)))
    info["gen_differs_from_no_window_model"] = not torch.equal(
        out, greedy(nowin, prompt, eos, torch.ones_like(prompt)))
    info["gen_distinct_generated_tokens"] = len(set(out[0, GEN_PROMPT:].tolist()))
    assert info["gen_distinct_generated_tokens"] >= 4

    bprompt, bmask = left_pad(rand(g, (2, GEN_PROMPT), vocab), GENB_PAD_ROW1)
    beos, bout = absent_eos(model, bprompt, bmask)
    t["genb_prompt"], t["genb_mask"], t["genb_output"] = bprompt, bmask, bout
    info["genb_eos_token_id"] = beos
    info["genb_equals_no_cache_generation"] = bool(torch.equal(
        bout, greedy(model, bprompt, beos, bmask, use_cache=False)))
    info["genb_differs_from_no_window_model"] = not torch.equal(bout, greedy(nowin, bprompt, beos, bmask))

    # one training step (gradients only, no optimizer step)
    tids, tmask = left_pad(rand(g, (2, SEQ), vocab), TRAIN_PAD_ROW1)
    labels = tids.clone()
    labels[tmask == 0] = -100
    # the padded row's first real token is predicted from a (fully masked) pad position: leave it out. eager
    # attention adds finfo.min to the scores, so such a row is uniform AND passes gradient to q/k, whereas peft4j's
    # where(allowed, scores, min) passes none (a separate, pre-existing difference; see README).
    labels[1, TRAIN_PAD_ROW1] = -100
    model.train()
    model.zero_grad()
    loss = model(input_ids=tids, attention_mask=tmask, labels=labels).loss
    loss.backward()
    model.eval()
    t["train_input_ids"], t["train_attention_mask"], t["train_labels"] = tids, tmask, labels
    t["train_loss"] = loss.detach().float().reshape(())
    grads = []
    for pname, p in model.named_parameters():
        if pname.endswith("_proj.weight") and ".self_attn." in pname or pname == "model.embed_tokens.weight":
            t["train_grad." + pname] = p.grad.detach().float().contiguous()
            grads.append(pname)
    model.zero_grad()
    info["train_grad_names"] = grads
    return {k: v.contiguous() for k, v in t.items()}, info


def layer_type_table():
    rows = []
    for model_type, kw in LAYER_TYPE_CONFIGS:
        cls = Qwen2Config if model_type == "qwen2" else MistralConfig
        c = cls(**kw)
        types = c.layer_types if model_type == "qwen2" else [
            "sliding_attention" if c.sliding_window is not None else "full_attention"] * c.num_hidden_layers
        rows.append({"model_type": model_type, "config": kw, "layer_types": list(types),
                     "sliding_window": c.sliding_window})
    return rows


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.set_seed(0)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for sub in ("models", "reference", "lora"):
        os.makedirs(os.path.join(OUT, sub))
    vers = mf.versions()
    for idx, (name, cfg_cls, model_cls, kw) in enumerate(SPECS):
        seed = 7000 + 100 * idx
        model = mf.build_model(cfg_cls, model_cls, kw, seed)
        folder = os.path.join(OUT, "models", name)
        model.save_pretrained(folder, safe_serialization=True)
        tensors, info = reference(name, model, seed + 50)
        save_file(tensors, os.path.join(OUT, "reference", name + ".safetensors"), metadata={"model": name})
        meta = {"model": name, "model_class": type(model).__name__, "pad_token_id": mf.PAD_ID,
                "max_new_tokens": GEN_NEW, "sliding_window": model.config.sliding_window,
                "layer_types": getattr(model.config, "layer_types", None), **info, "versions": vers}
        mf.dump_json(os.path.join(OUT, "reference", name + ".json"), meta)
        print(f"[{name}] {info}", flush=True)
        assert info["logits_vs_no_window_max_abs"] > 1e-2
        assert info["gen_equals_no_cache_generation"] and info["genb_equals_no_cache_generation"]

    mf.dump_json(os.path.join(OUT, "layer_types.json"), {
        "source": "Qwen2Config(**config).layer_types / .sliding_window; MistralConfig: every layer "
                  "sliding_attention when .sliding_window is not None (MistralModel's mask rule)",
        "versions": vers, "rows": layer_type_table()})

    mlf.MODELS = os.path.join(OUT, "models")
    for case, model_name, kw, opts in LORA_CASES:
        mlf.build_case(os.path.join(OUT, "lora"), case, model_name, kw, opts)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {size} bytes under {os.path.relpath(OUT, HERE)}")
    assert size < 1_000_000, size


if __name__ == "__main__":
    main()
