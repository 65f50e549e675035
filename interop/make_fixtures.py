#!/usr/bin/env python3
"""Generate the Python/transformers reference fixtures used by peft4j's Java tests.

Run through ``bash interop/regenerate.sh`` (creates interop/.venv if needed).
Everything is written below ``interop/fixtures/`` (or ``--out DIR``):

  models/<name>/                 tiny random models, save_pretrained(safe_serialization=True)
  reference/<name>.safetensors   input ids / logits / greedy generations
  reference/<name>.json          scalar settings, module & parameter names, versions
  configs/<name>.json            real Hub configurations (typed in), for shape-only counts
  configs/counts.json            parameter counts computed on torch.device("meta")

The script is deterministic: fixed seeds, CPU only, single thread, deterministic
algorithms.  See interop/README.md for the exact file formats.
"""

import argparse
import json
import math
import os
import shutil
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import (  # noqa: E402
    AutoConfig,
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

try:
    import peft  # noqa: E402
except Exception:  # pragma: no cover - peft is only used for version info / LoRA counts
    peft = None

HERE = os.path.dirname(os.path.abspath(__file__))

PAD_ID = 0
MAX_NEW_TOKENS = 12
SEQ_LEN = 7
N_PAD_ROW1 = 3
GEN_PROMPT_LEN = 5
GENB_LEN = 6
GENB_PAD_ROW1 = 2

# Re-initialisation (default std 0.02 gives near-uniform logits and boring generations).
MATRIX_STD = 0.3
EMBED_STD = 0.5
NORM_JITTER = 0.1
BIAS_STD = 0.1


# --------------------------------------------------------------------------------------
# tiny model definitions
# --------------------------------------------------------------------------------------

def tiny_specs():
    common = dict(bos_token_id=1, eos_token_id=2, attn_implementation="eager")
    return [
        ("llama-mha", LlamaConfig, LlamaForCausalLM, dict(
            vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
            rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
            attention_bias=False, mlp_bias=False, hidden_act="silu", **common)),
        # hidden 96 / 4 heads -> head_dim 24 -> 12 rotary frequencies; with theta 5e5 and
        # original_max_position_embeddings 32 this hits the high, medium and low llama3 bands
        # (head_dim 16 would have no medium-band frequency).
        ("llama-gqa", LlamaConfig, LlamaForCausalLM, dict(
            vocab_size=128, hidden_size=96, intermediate_size=192, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rope_theta=500000.0,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 32},
            rms_norm_eps=1e-5, tie_word_embeddings=True, attention_bias=True, mlp_bias=False,
            hidden_act="silu", **common)),
        ("mistral", MistralConfig, MistralForCausalLM, dict(
            vocab_size=192, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            rope_theta=10000.0, rms_norm_eps=1e-5, sliding_window=None,
            tie_word_embeddings=False, hidden_act="silu", **common)),
        ("qwen2", Qwen2Config, Qwen2ForCausalLM, dict(
            vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
            use_sliding_window=False, sliding_window=None, hidden_act="silu", **common)),
        ("gpt2", GPT2Config, GPT2LMHeadModel, dict(
            vocab_size=256, n_embd=32, n_head=4, n_layer=2, n_positions=64,
            activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
            bos_token_id=255, eos_token_id=255, attn_implementation="eager"),
            # GPT-2 (LayerNorm, absolute positions) falls into repetition loops sooner;
            # a larger matrix std gives more varied greedy generations.
            {"matrix_std": 0.5}),
    ]


def build_model(cfg_cls, model_cls, kwargs, seed, init=None):
    kwargs = dict(kwargs)
    attn = kwargs.pop("attn_implementation")
    config = cfg_cls(**kwargs)
    config._attn_implementation = attn
    torch.manual_seed(seed)
    model = model_cls(config)
    model = model.to(torch.float32)
    reinit_(model, seed + 1, **(init or {}))
    model.eval()
    return model


@torch.no_grad()
def reinit_(model, seed, matrix_std=MATRIX_STD, embed_std=EMBED_STD,
            norm_jitter=NORM_JITTER, bias_std=BIAS_STD):
    """Larger-variance deterministic re-initialisation (in place, tied weights stay tied)."""
    g = torch.Generator().manual_seed(seed)
    embed_ids = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    for name, p in model.named_parameters():  # tied parameters are listed once
        if p.ndim >= 2:
            std = embed_std if id(p) in embed_ids else matrix_std
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * std)
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * bias_std)
        else:  # norm scales
            p.copy_(1.0 + torch.randn(p.shape, generator=g, dtype=torch.float32) * norm_jitter)


# --------------------------------------------------------------------------------------
# reference computations
# --------------------------------------------------------------------------------------

class ForwardRecorder:
    """Records what generate() passes to forward() (position_ids etc.) via a forward
    pre-hook.  (Replacing model.forward would hide its signature, and generate() only
    builds position_ids when the forward signature has a `position_ids` parameter.)"""

    KEYS = ("input_ids", "position_ids", "attention_mask", "cache_position")

    def __init__(self, model):
        self.model = model
        self.calls = []
        self.handle = None

    def _hook(self, module, args, kwargs):
        rec = {}
        for k in self.KEYS:
            v = kwargs.get(k)
            rec[k] = v.detach().clone() if torch.is_tensor(v) else None
        if rec["input_ids"] is None and args:
            rec["input_ids"] = args[0].detach().clone()
        self.calls.append(rec)

    def __enter__(self):
        self.handle = self.model.register_forward_pre_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def greedy(model, prompt, eos_id, mask=None):
    kw = dict(max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=eos_id,
              pad_token_id=PAD_ID, num_beams=1, temperature=None, top_p=None, top_k=None)
    if mask is not None:
        kw["attention_mask"] = mask
    else:
        kw["attention_mask"] = torch.ones_like(prompt)
    with torch.no_grad():
        return model.generate(prompt, **kw)


def pick_absent_eos(model, prompt, vocab, mask=None):
    """An eos id that is never generated, so all MAX_NEW_TOKENS tokens are produced."""
    for cand in range(vocab - 1, 0, -1):
        out = greedy(model, prompt, cand, mask)
        gen = out[:, prompt.shape[1]:]
        if gen.shape[1] == MAX_NEW_TOKENS and not (gen == cand).any():
            return cand, out
    raise RuntimeError("no absent eos id found")


def rand_tokens(g, shape, vocab):
    # token 0 is the pad id; real tokens are drawn from [3, vocab) (avoids pad/bos/eos ids)
    return torch.randint(3, vocab, shape, generator=g, dtype=torch.int64)


def make_reference(name, model, seed):
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    t = {}
    info = {}

    # ---- plain forward
    input_ids = rand_tokens(g, (2, SEQ_LEN), vocab)
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
    t["input_ids"] = input_ids
    t["logits"] = logits.float().contiguous()

    # ---- left-padded forward (row 0 full, row 1 with N_PAD_ROW1 leading pads)
    padded = rand_tokens(g, (2, SEQ_LEN), vocab)
    mask = torch.ones((2, SEQ_LEN), dtype=torch.int64)
    padded[1, :N_PAD_ROW1] = PAD_ID
    mask[1, :N_PAD_ROW1] = 0
    with torch.no_grad():
        plog = model(input_ids=padded, attention_mask=mask).logits
    t["padded_input_ids"] = padded
    t["padded_attention_mask"] = mask
    t["padded_logits"] = plog.float().contiguous()
    t["padded_valid"] = mask.clone()
    # observations (not fixtures): transformers does NOT shift positions for left padding
    # when position_ids is absent, so row 1's valid logits differ from an unpadded run.
    with torch.no_grad():
        row1 = model(input_ids=padded[1:, N_PAD_ROW1:]).logits[0]
        row1_shifted = model(input_ids=padded[1:], attention_mask=mask[1:],
                             position_ids=(mask[1:].cumsum(-1) - 1).clamp(min=0)).logits[0]
        row0 = model(input_ids=padded[:1]).logits[0]
    info["padded_row0_vs_unpadded_maxabs"] = float((plog[0] - row0).abs().max())
    info["padded_row1_valid_vs_unpadded_maxabs"] = float((plog[1, N_PAD_ROW1:] - row1).abs().max())
    info["padded_row1_valid_vs_unpadded_with_shifted_position_ids_maxabs"] = float(
        (row1_shifted[N_PAD_ROW1:] - row1).abs().max())
    info["padded_logits_pad_positions_finite"] = bool(torch.isfinite(plog[1, :N_PAD_ROW1]).all())
    # eager mask = 0 / finfo(float32).min added to the scores; a query row whose keys are all
    # masked (pad queries of a left-padded row) therefore gets EXACTLY uniform weights 1/T over
    # all T keys (future ones included) instead of NaN.
    with torch.no_grad():
        att = model(input_ids=padded, attention_mask=mask, output_attentions=True).attentions
    uni = torch.full((SEQ_LEN,), 1.0 / SEQ_LEN)
    info["padded_fully_masked_rows_exactly_uniform"] = bool(all(
        torch.equal(a[1, h, q], uni) for a in att for h in range(a.shape[1])
        for q in range(N_PAD_ROW1)))

    # rotary inverse frequencies as the model holds them (float32 buffer, not in state_dict)
    rot = find_rotary(model, required=False)
    if rot is not None:
        t["rope_inv_freq"] = rot.inv_freq.detach().float().clone()

    # ---- greedy generations with an eos that never occurs
    for key in ("gen0", "gen1"):
        prompt = rand_tokens(g, (1, GEN_PROMPT_LEN), vocab)
        eos, out = pick_absent_eos(model, prompt, vocab)
        t[f"{key}_prompt"] = prompt
        t[f"{key}_output"] = out
        info[f"{key}_eos_token_id"] = eos
        gen = out[0, GEN_PROMPT_LEN:].tolist()
        info[f"{key}_distinct_generated_tokens"] = len(set(gen))
        assert len(set(gen)) >= 4, (name, key, gen)  # weights must give non-trivial generations

    # ---- left-padded batched greedy generation
    bprompt = rand_tokens(g, (2, GENB_LEN), vocab)
    bmask = torch.ones((2, GENB_LEN), dtype=torch.int64)
    bprompt[1, :GENB_PAD_ROW1] = PAD_ID
    bmask[1, :GENB_PAD_ROW1] = 0
    beos, _ = pick_absent_eos(model, bprompt, vocab, bmask)
    with ForwardRecorder(model) as rec:
        bout = greedy(model, bprompt, beos, bmask)
    t["genb_prompt"] = bprompt
    t["genb_mask"] = bmask
    t["genb_output"] = bout
    info["genb_eos_token_id"] = beos
    # what generate fed to forward(): position ids per step
    pos_cols = []
    for c in rec.calls:
        if c["position_ids"] is None:
            raise RuntimeError("generate() did not pass position_ids")
        pos_cols.append(c["position_ids"].expand(2, -1))
    pos_source = "position_ids passed by generate() to forward()"
    t["genb_position_ids"] = torch.cat(pos_cols, dim=1).to(torch.int64).contiguous()
    info["genb_position_ids_source"] = pos_source
    info["genb_forward_calls"] = len(rec.calls)
    info["genb_forward_input_lengths"] = [int(c["input_ids"].shape[1]) for c in rec.calls]
    info["genb_forward_attention_mask_shapes"] = [None if c["attention_mask"] is None else list(c["attention_mask"].shape) for c in rec.calls]
    # consistency: each row of the batch equals the unpadded single-row generation
    with torch.no_grad():
        solo = greedy(model, bprompt[1:, GENB_PAD_ROW1:], beos)
    info["genb_row1_equals_unpadded_generation"] = bool(
        torch.equal(solo[0, GENB_LEN - GENB_PAD_ROW1:], bout[1, GENB_LEN:]))

    # ---- generation that stops on eos: eos = 4th token of an unconstrained greedy run
    for attempt in range(50):
        prompt = rand_tokens(g, (1, GEN_PROMPT_LEN), vocab)
        _, free = pick_absent_eos(model, prompt, vocab)
        gen = free[0, GEN_PROMPT_LEN:].tolist()
        if gen[3] not in gen[:3]:
            break
    else:
        raise RuntimeError("could not find a prompt whose 4th generated token is new")
    eos = int(gen[3])
    out = greedy(model, prompt, eos)
    assert out.shape[1] == GEN_PROMPT_LEN + 4 and int(out[0, -1]) == eos, out
    t["gen_eos_prompt"] = prompt
    t["gen_eos_output"] = out
    info["gen_eos_token_id"] = eos

    t = {k: v.contiguous() for k, v in t.items()}
    return t, info


def model_metadata(model):
    return {
        "named_modules": [n for n, _ in model.named_modules()],
        "named_parameters": [[n, list(p.shape)] for n, p in model.named_parameters()],
        "state_dict_keys": list(model.state_dict().keys()),
        "num_parameters": int(sum(p.numel() for p in model.parameters())),
    }


def versions():
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": getattr(peft, "__version__", None),
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }


def rope_band_report(model):
    """Classify each rotary frequency of a llama3-scaled model into high/medium/low band."""
    cfg = model.config
    rot = find_rotary(model)
    inv = rot.inv_freq.detach().double()
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    params = rope_params(cfg)
    base = float(params["rope_theta"])
    orig = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).double() / head_dim))
    ratio = (orig / inv).tolist()
    factor = float(params["factor"])
    omax = float(params["original_max_position_embeddings"])
    low_wl = omax / float(params["low_freq_factor"])
    high_wl = omax / float(params["high_freq_factor"])
    rows = []
    for i, (o, s, r) in enumerate(zip(orig.tolist(), inv.tolist(), ratio)):
        wl = 2 * math.pi / o
        band = "high (unchanged)" if wl < high_wl else ("low (/factor)" if wl > low_wl else "medium (smoothed)")
        rows.append({"index": i, "inv_freq_unscaled": o, "inv_freq": s, "wavelength": wl,
                     "ratio": r, "band": band})
    bands = {b: [r["index"] for r in rows if r["band"] == b]
             for b in ("high (unchanged)", "medium (smoothed)", "low (/factor)")}
    return {"head_dim": head_dim, "high_freq_wavelen": high_wl, "low_freq_wavelen": low_wl,
            "factor": factor, "attention_scaling": float(getattr(rot, "attention_scaling", 1.0)),
            "frequencies": rows, "bands": bands}


def find_rotary(model, required=True):
    for n, m in model.named_modules():
        if hasattr(m, "inv_freq"):
            return m
    if required:
        raise RuntimeError("no rotary module")
    return None


def rope_params(cfg):
    p = getattr(cfg, "rope_parameters", None)
    if p:
        p = dict(p)
    else:
        p = dict(getattr(cfg, "rope_scaling", None) or {})
        p["rope_theta"] = cfg.rope_theta
    if "rope_theta" not in p:
        p["rope_theta"] = cfg.rope_theta
    return p


def check_reload(folder, ref, name):
    m = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager",
                                             dtype=torch.float32)
    m.eval()
    with torch.no_grad():
        a = m(input_ids=ref["input_ids"]).logits
        b = m(input_ids=ref["padded_input_ids"], attention_mask=ref["padded_attention_mask"]).logits
        o = greedy(m, ref["gen0_prompt"], int(REF_INFO[name]["gen0_eos_token_id"]))
    ok = (torch.equal(a, ref["logits"]) and torch.equal(b, ref["padded_logits"])
          and torch.equal(o, ref["gen0_output"]))
    return ok, float((a - ref["logits"]).abs().max())


REF_INFO = {}


# --------------------------------------------------------------------------------------
# real configurations (shape-only counts on the meta device)
# --------------------------------------------------------------------------------------

REAL_CONFIGS = {
    "llama-2-7b": {  # meta-llama/Llama-2-7b-hf
        "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
        "intermediate_size": 11008, "max_position_embeddings": 4096, "model_type": "llama",
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "tie_word_embeddings": False, "torch_dtype": "float16", "use_cache": True,
        "vocab_size": 32000,
    },
    "llama-3.2-1b": {  # meta-llama/Llama-3.2-1B
        "architectures": ["LlamaForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 128000, "eos_token_id": 128001,
        "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
        "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
        "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "use_cache": True, "vocab_size": 128256,
    },
    "qwen2.5-0.5b": {  # Qwen/Qwen2.5-0.5B
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151643, "hidden_act": "silu",
        "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
        "max_position_embeddings": 32768, "max_window_layers": 24, "model_type": "qwen2",
        "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True,
        "use_mrope": False, "use_sliding_window": False, "vocab_size": 151936,
    },
    "tinyllama-1.1b": {  # TinyLlama/TinyLlama-1.1B-Chat-v1.0
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 1,
        "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048,
        "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 2048,
        "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22,
        "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "use_cache": True, "vocab_size": 32000,
    },
    "mistral-7b-v0.1": {  # mistralai/Mistral-7B-v0.1
        "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
        "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
        "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_cache": True,
        "vocab_size": 32000,
    },
    "gpt2": {  # openai-community/gpt2
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
        "resid_pdrop": 0.1, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "vocab_size": 50257,
    },
}

HUB_REPOS = {"llama-2-7b": "meta-llama/Llama-2-7b-hf", "llama-3.2-1b": "meta-llama/Llama-3.2-1B",
             "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B", "tinyllama-1.1b": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
             "mistral-7b-v0.1": "mistralai/Mistral-7B-v0.1", "gpt2": "openai-community/gpt2"}

PUBLISHED_TOTALS = {"llama-2-7b": 6738415616, "gpt2": 124439808}

# LoRA example (PEFT defaults: bias="none", only lora_A / lora_B trainable)
LORA_EXAMPLE = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0}
LORA_TARGETS = {"llama": ["q_proj", "v_proj"], "mistral": ["q_proj", "v_proj"],
                "qwen2": ["q_proj", "v_proj"], "gpt2": ["c_attn"]}


def layer_pattern(name):
    """'model.layers.0.self_attn.q_proj.weight' -> layer 0 only; other layers dropped."""
    parts = name.split(".")
    for i, p in enumerate(parts[:-1]):
        if p.isdigit() and i > 0 and parts[i - 1] in ("layers", "h"):
            return "layer0" if p == "0" else "other-layer"
    return "non-layer"


def meta_counts(name, cfg_dict):
    config = AutoConfig.for_model(**cfg_dict)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    params = list(model.named_parameters())
    total = sum(p.numel() for _, p in params)
    trainable = sum(p.numel() for _, p in params if p.requires_grad)
    layer0 = [[n, list(p.shape)] for n, p in params if layer_pattern(n) == "layer0"]
    nonlayer = [[n, list(p.shape)] for n, p in params if layer_pattern(n) == "non-layer"]
    per_layer = sum(math.prod(s) for _, s in layer0)
    n_layers = getattr(config, "num_hidden_layers", None)
    embed = model.get_input_embeddings().weight.numel()
    out = {
        "hub_repo": HUB_REPOS[name],
        "model_type": config.model_type,
        "num_parameters": int(total),
        "num_trainable_parameters": int(trainable),
        "num_parameters_per_layer": int(per_layer),
        "num_hidden_layers": int(n_layers),
        "input_embedding_parameters": int(embed),
        "tie_word_embeddings": bool(getattr(config, "tie_word_embeddings", False)),
        "state_dict_num_keys": len(model.state_dict()),
        "layer0_parameters": layer0,
        "non_layer_parameters": nonlayer,
    }
    assert per_layer * n_layers + sum(math.prod(s) for _, s in nonlayer) == total
    if name in PUBLISHED_TOTALS:
        assert total == PUBLISHED_TOTALS[name], (name, total, PUBLISHED_TOTALS[name])
        out["published_total_matches"] = True
    if peft is not None:
        try:
            from peft import LoraConfig, get_peft_model
            lcfg = LoraConfig(target_modules=LORA_TARGETS[config.model_type],
                              task_type="CAUSAL_LM", **LORA_EXAMPLE)
            with torch.device("meta"):
                pm = get_peft_model(model, lcfg)
            tr, al = pm.get_nb_trainable_parameters()
            out["lora_example"] = dict(LORA_EXAMPLE, target_modules=LORA_TARGETS[config.model_type],
                                       bias="none", trainable_parameters=int(tr),
                                       all_parameters=int(al))
        except Exception as e:  # keep going; the base counts are the main product
            out["lora_example"] = {"error": repr(e)}
    return out


# --------------------------------------------------------------------------------------

def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures"))
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.set_seed(0)

    out = args.out
    for sub in ("models", "reference", "configs"):
        d = os.path.join(out, sub)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)

    vers = versions()
    print("versions:", vers)
    summary = {}
    for idx, spec in enumerate(tiny_specs()):
        name, cfg_cls, model_cls, kwargs = spec[:4]
        init = spec[4] if len(spec) > 4 else {}
        seed = 1000 * (idx + 1)
        model = build_model(cfg_cls, model_cls, kwargs, seed, init)
        folder = os.path.join(out, "models", name)
        model.save_pretrained(folder, safe_serialization=True)
        tensors, info = make_reference(name, model, seed + 500)
        save_file(tensors, os.path.join(out, "reference", f"{name}.safetensors"),
                  metadata={"model": name})
        meta = {"model": name, "model_class": type(model).__name__,
                "pad_token_id": PAD_ID, "max_new_tokens": MAX_NEW_TOKENS,
                "reinit": dict(dict(matrix_std=MATRIX_STD, embed_std=EMBED_STD,
                                    norm_jitter=NORM_JITTER, bias_std=BIAS_STD), **init)}
        meta.update(info)
        meta["saved_safetensors_keys"] = sorted(load_file(os.path.join(folder, "model.safetensors")).keys())
        meta.update(model_metadata(model))
        if name == "llama-gqa":
            meta["rope_llama3_bands"] = rope_band_report(model)
        meta["versions"] = vers
        dump_json(os.path.join(out, "reference", f"{name}.json"), meta)
        REF_INFO[name] = meta
        summary[name] = {k: v for k, v in info.items()}
        print(f"[{name}] params={meta['num_parameters']} info={info}")

        if name == "llama-mha":  # same weights, sharded
            sfolder = os.path.join(out, "models", "llama-mha-sharded")
            model.save_pretrained(sfolder, safe_serialization=True, max_shard_size="60KB")
            shutil.copy(os.path.join(out, "reference", "llama-mha.safetensors"),
                        os.path.join(out, "reference", "llama-mha-sharded.safetensors"))
            smeta = dict(meta, model="llama-mha-sharded")
            smeta.pop("saved_safetensors_keys")
            with open(os.path.join(sfolder, "model.safetensors.index.json")) as f:
                smeta["weight_map"] = json.load(f)["weight_map"]
            smeta["shards"] = sorted(set(smeta["weight_map"].values()))
            assert len(smeta["shards"]) >= 2
            dump_json(os.path.join(out, "reference", "llama-mha-sharded.json"), smeta)
            REF_INFO["llama-mha-sharded"] = smeta

    # real configurations
    counts = {}
    for name, cfg in REAL_CONFIGS.items():
        dump_json(os.path.join(out, "configs", f"{name}.json"), cfg)
        counts[name] = meta_counts(name, cfg)
        print(f"[config {name}] total={counts[name]['num_parameters']:,} "
              f"lora={counts[name].get('lora_example')}")
    counts["_versions"] = vers
    dump_json(os.path.join(out, "configs", "counts.json"), counts)

    if not args.no_check:
        bad = []
        for name in list(REF_INFO):
            ref = load_file(os.path.join(out, "reference", f"{name}.safetensors"))
            ok, err = check_reload(os.path.join(out, "models", name), ref, name)
            print(f"[reload {name}] exact={ok} maxabs={err}")
            if not ok:
                bad.append(name)
        if bad:
            raise SystemExit(f"reload check failed for {bad}")
    print("done")


if __name__ == "__main__":
    main()
