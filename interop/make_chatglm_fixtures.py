"""ChatGLM2/3 fixtures (model family `chatglm`) from THUDM's original modeling_chatglm.py.

Run in the SEPARATE virtualenv of interop/requirements-chatglm.txt (transformers 4.x; see interop/README.md):
    CHATGLM_REF=/work/chatglm-ref /work/chatglm-venv/bin/python interop/make_chatglm_fixtures.py
CHATGLM_REF is a folder holding a package `chatglm_ref/` with configuration_chatglm.py and modeling_chatglm.py copied
from the hub repo THUDM/chatglm3-6b (never committed). Writes interop/fixtures/chatglm/:
  model/               tiny random ChatGLM (config.json, model.safetensors as save_pretrained writes it)
  reference.safetensors logits (plain and left-padded batch), greedy generations (single and left-padded batch),
                       full-fine-tuning loss + gradients of every parameter
  reference.json       named_modules, named_parameters, num_parameters, versions
  lora/adapter/        a PEFT-saved LoRA adapter (default targets: query_key_value, init_lora_weights=False)
  lora/expected.safetensors  logits with the adapter, one training step's loss and LoRA gradients
  counts.json          torch meta-device parameter counts of configs/chatglm2-6b.json, configs/chatglm3-6b.json
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.environ.get("CHATGLM_REF", "/work/chatglm-ref"))
from chatglm_ref.configuration_chatglm import ChatGLMConfig  # noqa: E402
from chatglm_ref.modeling_chatglm import ChatGLMForConditionalGeneration  # noqa: E402
import transformers  # noqa: E402
import peft  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "chatglm")
VOCAB = 512
SEQ = 9
N_PAD = 3
GEN_NEW = 8

TINY = dict(num_layers=2, padded_vocab_size=VOCAB, hidden_size=32, ffn_hidden_size=48, kv_channels=16,
            num_attention_heads=4, seq_length=128, layernorm_epsilon=1e-5, rmsnorm=True,
            apply_residual_connection_post_layernorm=False, post_layer_norm=True, add_bias_linear=False,
            add_qkv_bias=True, multi_query_attention=True, multi_query_group_num=2, original_rope=True,
            eos_token_id=2, pad_token_id=0, torch_dtype="float32", tie_word_embeddings=False, use_cache=True)


def build():
    torch.manual_seed(0)
    cfg = ChatGLMConfig(**TINY)
    model = ChatGLMForConditionalGeneration(cfg, empty_init=False).float()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("layernorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif n.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.25 * torch.randn(p.shape, generator=g))
    model.eval()
    return model


def toks(g, shape):
    return torch.randint(3, VOCAB, shape, generator=g)


def greedy(model, ids, mask):
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=GEN_NEW, do_sample=False,
                             eos_token_id=VOCAB + 100, pad_token_id=0)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    model = build()
    model.save_pretrained(os.path.join(OUT, "model"), safe_serialization=True)
    # config.json: drop auto_map-less noise but keep what modeling needs
    g = torch.Generator().manual_seed(2)
    t = {}
    ids = toks(g, (2, SEQ))
    with torch.no_grad():
        t["logits"] = model(input_ids=ids).logits.float()
    t["input_ids"] = ids
    padded = toks(g, (2, SEQ))
    mask = torch.ones((2, SEQ), dtype=torch.int64)
    padded[1, :N_PAD] = 0
    mask[1, :N_PAD] = 0
    with torch.no_grad():
        t["padded_logits"] = model(input_ids=padded, attention_mask=mask).logits.float()
    t["padded_input_ids"] = padded
    t["padded_attention_mask"] = mask
    t["padded_valid"] = mask.clone()
    # greedy generation: one row, and a left-padded batch (modeling_chatglm: positions 0..n-1, pads included)
    p1 = toks(g, (1, 6))
    t["gen_prompt"] = p1
    t["gen_output"] = greedy(model, p1, torch.ones_like(p1))
    pb = toks(g, (2, 7))
    mb = torch.ones_like(pb)
    pb[1, :2] = 0
    mb[1, :2] = 0
    t["genb_prompt"] = pb
    t["genb_mask"] = mb
    t["genb_output"] = greedy(model, pb, mb)
    # full fine-tuning gradients (labels with an ignored position)
    labels = ids.clone()
    labels[0, 2] = -100
    model.zero_grad()
    out = model(input_ids=ids, labels=labels)
    out.loss.backward()
    t["labels"] = labels
    t["loss"] = out.loss.detach().float().reshape(())
    for n, p in model.named_parameters():
        t["grad." + n] = p.grad.detach().clone()
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(OUT, "reference.safetensors"))
    info = {
        "named_modules": [n for n, _ in model.named_modules()],
        "named_parameters": [[n, list(p.shape)] for n, p in model.named_parameters()],
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "state_dict_keys": list(model.state_dict().keys()),
        "gen_distinct": len(set(t["gen_output"][0, 6:].tolist())),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(info, f, indent=1)

    # ---- LoRA: PEFT default target for chatglm (query_key_value), random B so the adapter changes logits
    model.zero_grad()
    lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False, task_type="CAUSAL_LM")
    pm = get_peft_model(model, lcfg)
    pm.save_pretrained(os.path.join(OUT, "lora", "adapter"))
    e = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    e["input_ids"] = padded
    lab = padded.clone()
    lab[mask == 0] = -100
    e["labels"] = lab
    pm.eval()
    with torch.no_grad():
        e["logits"] = pm(input_ids=padded, attention_mask=mask).logits.float()
    o = pm(input_ids=padded, attention_mask=mask, labels=lab)
    o.loss.backward()
    e["loss"] = o.loss.detach().float().reshape(())
    for n, p in pm.named_parameters():
        if p.requires_grad:
            e["grad." + n] = p.grad.detach().clone()
    save_file({k: v.contiguous() for k, v in e.items()}, os.path.join(OUT, "lora", "expected.safetensors"))

    # ---- shape-only counts of the real configurations on the meta device
    counts = {}
    for name in ("chatglm2-6b", "chatglm3-6b"):
        with open(os.path.join(OUT, "configs", name + ".json")) as f:
            d = json.load(f)
        d = {k: v for k, v in d.items() if k not in ("auto_map", "architectures", "_name_or_path")}
        cfg = ChatGLMConfig(**d)
        m = ChatGLMForConditionalGeneration(cfg, empty_init=False, device="meta")
        counts[name] = {"num_parameters": sum(p.numel() for p in m.parameters()),
                        "state_dict_num_keys": len(m.state_dict()),
                        "query_key_value_out": int(m.transformer.encoder.layers[0].self_attention.query_key_value.out_features)}
    with open(os.path.join(OUT, "counts.json"), "w") as f:
        json.dump(counts, f, indent=1)
    print(json.dumps(counts), info["gen_distinct"])


if __name__ == "__main__":
    main()
