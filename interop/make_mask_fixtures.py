#!/usr/bin/env python3
"""Fully masked attention rows: transformers' eager attention ADDS its mask (0 / finfo(dtype).min) to the scores.

Writes interop/fixtures/masking/ (nothing else):

  <model>.safetensors   one training step on a left-padded batch whose padded row's FIRST REAL TOKEN IS LABELLED
                        (it is predicted from a pad position, whose attention row is fully masked):
                          input_ids, attention_mask, labels  int64 [2, 9] (row 1 left-padded by 3, pad id 0;
                                                             labels = input_ids, -100 at pads only)
                          logits   float32 [2, 9, V]  model.eval() forward of that batch, ALL positions (pads too)
                          loss     float32 []         model.train() (dropout off), transformers' causal-LM loss
                          grad.<name>  float32        embeddings and the attention weights of every layer
  attention.safetensors eager_attention_forward of Llama and GPT-2 alone (transformers' own functions, mask from
                        masking_utils.eager_mask), float32 and float16, on q/k/v [2, 2, 6, 8] with row 1
                        left-padded by 2 (its queries 0 and 1 see no key):
                          attention_mask int64 [2, 6]; q, k, v_<dtype>; out_llama_<dtype>, out_gpt2_<dtype>
                          [2, 6, 2, 8] (transposed back to [B, T, H, D] as the functions return it)
  masking.json          shapes, the models' folders, torch.finfo(dtype).min per float dtype, and observations: how far the gradients are from those
                        of a torch.where(allowed, scores, min) attention (what peft4j used to build), per tensor

<model> in llama-mha, gpt2 (interop/fixtures/models) and mistral-swa (interop/fixtures/sliding-window/models).

Run: /work/main/interop/.venv/bin/python interop/make_mask_fixtures.py (or interop/.venv/bin/python). Deterministic
(seeds, one thread, deterministic algorithms).
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import masking_utils
from transformers.models.gpt2 import modeling_gpt2
from transformers.models.llama import modeling_llama
from transformers.models.mistral import modeling_mistral

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
OUT = os.path.join(FIX, "masking")
SEQ = 9
PAD_ROW1 = 3
PAD_ID = 0
MODELS = [("llama-mha", os.path.join(FIX, "models", "llama-mha")),
          ("gpt2", os.path.join(FIX, "models", "gpt2")),
          ("mistral-swa", os.path.join(FIX, "sliding-window", "models", "mistral-swa"))]


def versions():
    return {"torch": torch.__version__, "transformers": transformers.__version__}


def wanted(name):
    return (name in ("model.embed_tokens.weight", "transformer.wte.weight", "transformer.wpe.weight")
            or (".self_attn." in name and name.endswith("_proj.weight"))
            or (".attn.c_" in name and name.endswith(".weight")))


def where_attention(upcast):
    """The old peft4j semantics (for the observation): torch.where(allowed, scores, min) instead of scores + mask;
    otherwise Llama's (upcast=True) or GPT-2's eager_attention_forward."""
    def fn(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        if upcast:
            key = modeling_llama.repeat_kv(key, module.num_key_value_groups)
            value = modeling_llama.repeat_kv(value, module.num_key_value_groups)
        if scaling is None:
            scaling = query.size(-1) ** -0.5
        w = torch.matmul(query, key.transpose(2, 3)) * scaling
        if attention_mask is not None:
            w = torch.where(attention_mask == 0, w, torch.finfo(w.dtype).min)
        w = torch.nn.functional.softmax(w, dim=-1, dtype=torch.float32 if upcast else None).to(value.dtype)
        return torch.matmul(w, value).transpose(1, 2).contiguous(), w
    return fn


def train_step(model, ids, mask, labels):
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters() if wanted(n)}
    model.zero_grad()
    model.eval()
    return out.loss.detach().reshape(()), out.logits.detach(), grads


def model_case(name, folder, seed):
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager",
                                                              dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, model.config.vocab_size, (2, SEQ), generator=g, dtype=torch.int64)
    mask = torch.ones_like(ids)
    ids[1, :PAD_ROW1] = PAD_ID
    mask[1, :PAD_ROW1] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    assert labels[1, PAD_ROW1] != -100  # the first real token of the padded row is labelled
    loss, train_logits, grads = train_step(model, ids, mask, labels)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    assert torch.equal(logits, train_logits)
    # the loss is the shift-by-one mean cross entropy over the counted tokens
    want = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
    assert abs(float(want) - float(loss)) < 1e-6, (float(want), float(loss))

    # observation: the same step with where-selection instead of addition
    modules = [modeling_llama, modeling_mistral, modeling_gpt2]
    saved = [m.eager_attention_forward for m in modules]
    for m in modules:
        m.eager_attention_forward = where_attention(m is not modeling_gpt2)
    try:
        wloss, wlogits, wgrads = train_step(model, ids, mask, labels)
    finally:
        for m, f in zip(modules, saved):
            m.eager_attention_forward = f
    valid = mask.bool()
    obs = {
        "loss_where_minus_add": float(wloss - loss),
        "logits_where_vs_add_max_abs_real_tokens": float((wlogits - logits)[valid].abs().max()),
        "logits_where_vs_add_max_abs_all_positions": float((wlogits - logits).abs().max()),
        "grad_rel_l2_where_vs_add": {n: float((wgrads[n] - grads[n]).norm() / grads[n].norm()) for n in grads},
    }
    t = {"input_ids": ids, "attention_mask": mask, "labels": labels, "loss": loss, "logits": logits.contiguous()}
    for n, gr in grads.items():
        t["grad." + n] = gr
    return t, {"folder": os.path.relpath(folder, FIX), "model_class": type(model).__name__,
               "vocab_size": model.config.vocab_size, "loss": float(loss),
               "counted_tokens": int((labels[:, 1:] != -100).sum()), "grad_names": sorted(grads),
               "observations": obs}


class _Mod(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.num_key_value_groups = 1
        self.eval()


def attention_case(seed):
    g = torch.Generator().manual_seed(seed)
    b, h, t, d = 2, 2, 6, 8
    pad = torch.ones(b, t, dtype=torch.int64)
    pad[1, :2] = 0
    # large scores (std ~ 25 after scaling) so that, in float16, score + finfo.min is rounded to different values
    # and, at or below -16, overflows to -inf
    q32 = torch.randn(b, h, t, d, generator=g) * 8
    k32 = torch.randn(b, h, t, d, generator=g) * 8
    v32 = torch.randn(b, h, t, d, generator=g)
    tens = {"attention_mask": pad}
    info = {}
    for dt, tag in ((torch.float32, "f32"), (torch.float16, "f16")):
        q, k, v = q32.to(dt), k32.to(dt), v32.to(dt)
        mask = masking_utils.eager_mask(batch_size=b, q_length=t, kv_length=t, attention_mask=pad.bool(), dtype=dt)
        assert mask.dtype == dt and float(mask.min()) == torch.finfo(dt).min
        scale = d ** -0.5
        with torch.no_grad():
            ol, _ = modeling_llama.eager_attention_forward(_Mod(), q, k, v, mask, scaling=scale)
            og, _ = modeling_gpt2.eager_attention_forward(_Mod(), q, k, v, mask, scaling=scale)
        tens.update({"q_" + tag: q, "k_" + tag: k, "v_" + tag: v, "out_llama_" + tag: ol.contiguous(),
                     "out_gpt2_" + tag: og.contiguous()})
        summed = torch.matmul(q, k.transpose(2, 3)) * scale + mask
        info[tag] = {"fully_masked_rows_distinct_sums": int(torch.unique(summed[1, :, :2]).numel()),
                     "fully_masked_rows_neg_inf": int(torch.isinf(summed[1, :, :2]).sum()),
                     "nan_outputs_llama": int(torch.isnan(ol).sum()), "nan_outputs_gpt2": int(torch.isnan(og).sum())}
    info["scaling"] = 8 ** -0.5
    info["finfo_min"] = {str(dt).replace("torch.", ""): float(torch.finfo(dt).min)
                         for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}
    return tens, info


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    meta = {"seq": SEQ, "pad_row1": PAD_ROW1, "pad_id": PAD_ID, "labels_rule": "input_ids, -100 at pads only",
            "versions": versions(), "models": {}}
    for idx, (name, folder) in enumerate(MODELS):
        tensors, info = model_case(name, folder, 9100 + idx)
        save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"model": name})
        meta["models"][name] = info
        print(name, json.dumps(info["observations"]), flush=True)
    tensors, info = attention_case(9200)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "attention.safetensors"),
              metadata={"format": "pt"})
    meta["attention"] = info
    print("attention", info)
    with open(os.path.join(OUT, "masking.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote", size, "bytes")
    assert size < 400_000, size


if __name__ == "__main__":
    main()
