#!/usr/bin/env python3
"""LoRA interop fixtures (PEFT -> Java) for peft4j.

Run through ``bash interop/regenerate_lora.sh`` (same venv logic as regenerate.sh), or directly with the
venv's python.  Reads the committed tiny models in ``interop/fixtures/models/<name>`` and writes, for every
case below, ``interop/fixtures/lora/<case>/``:

  adapter/                  exactly what PeftModel.save_pretrained(adapter/) writes (README.md,
                            adapter_config.json, adapter_model.safetensors; other adapters in adapter/<name>/)
  expected.safetensors      input_ids, attention_mask (int64 [2, 7]), logits, base_logits (float32 [2, 7, V])
                            and per case logits_second / logits_both / merged_logits
  case.json                 model, adapters, counts, which modules were wrapped, saved keys, observations

plus ``lora/train-step/`` (one LoRA training step: loss and LoRA gradients).  See interop/README.md.

Deterministic: PYTHONHASHSEED=0 (the script re-executes itself with it, because PEFT stores target_modules
as a set and writes it as a list in set-iteration order), fixed per-case seeds, CPU only, one thread,
deterministic algorithms.
"""

import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":  # set iteration order of str sets -> adapter_config.json lists
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402

import peft  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from peft.tuners.lora import LoraLayer  # noqa: E402
from peft.utils.other import ModulesToSaveWrapper  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MODELS = os.path.join(HERE, "fixtures", "models")

PAD_ID = 0
SEQ_LEN = 7
N_PAD_ROW1 = 2
TRAIN_LEN = 9
TRAIN_PAD_ROW1 = 2
TRAIN_MASKED_PROMPT = 3  # first real tokens of each row whose labels are -100

# Randomisation of the adapter (a freshly initialised LoRA adapter is a no-op: B = 0).
LORA_STD = 0.2          # lora_A, lora_B (weight and bias), lora_embedding_A/B: fresh N(0, 0.2^2)
MTS_STD = 0.2           # modules_to_save copy: original + N(0, 0.2^2)
BIAS_STD = 0.2          # trained base biases (bias="all" / "lora_only"): original + N(0, 0.2^2)
MAG_JITTER = 0.1        # DoRA magnitude: ||W + s*B*A||_row * (1 + N(0, 0.1^2))
MIN_EFFECT = 1e-2       # max |logits - base_logits| must exceed this
RELOAD_TOL = 1e-6       # reload from the saved folder must reproduce the logits (bit-exact expected)

BASE_KW = dict(r=8, lora_alpha=16)

# name, model, LoraConfig kwargs (r=8, lora_alpha=16 added unless given), options
CASES = [
    ("qv", "llama-mha", dict(target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"), {}),
    ("all-linear", "llama-gqa", dict(target_modules="all-linear", lora_dropout=0.1, task_type="CAUSAL_LM"),
     {"notes": "lora_dropout 0.1 in the config; all logits are eval-mode (dropout is the identity)."}),
    ("gpt2-fan-in-fan-out", "gpt2", dict(target_modules=["c_attn", "c_proj", "c_fc"], fan_in_fan_out=True,
                                         task_type="CAUSAL_LM"),
     {"merged": True, "notes": "GPT-2 Conv1D (weight [in, out]); lora_A [r, in], lora_B [out, r] as for Linear; "
                               "merged_logits = merge_and_unload() of a reloaded copy."}),
    ("bias-all", "qwen2", dict(target_modules=["q_proj", "v_proj"], bias="all", task_type="CAUSAL_LM"),
     {"notes": "bias='all': every base bias (q, k AND v of both layers, incl. the untargeted k_proj) is trainable, "
               "was perturbed and is saved in the adapter file. base_logits (disable_adapter) use the TRAINED "
               "biases, so they differ from the plain base model (observations.base_logits_vs_original_base_max_abs)."}),
    ("bias-lora-only", "qwen2", dict(target_modules=["q_proj", "k_proj"], bias="lora_only", task_type="CAUSAL_LM"),
     {"notes": "bias='lora_only': the base_layer.bias of the LoRA-wrapped modules (q_proj, k_proj) is trainable, "
               "perturbed and saved; v_proj.bias is untouched. base_logits use the trained biases."}),
    ("rslora", "llama-mha", dict(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], use_rslora=True,
                                 r=16, lora_alpha=8, task_type="CAUSAL_LM"),
     {"notes": "scaling = lora_alpha / sqrt(r) = 8 / 4 = 2.0"}),
    ("patterns", "mistral", dict(target_modules=["q_proj", "v_proj", "down_proj"],
                                 rank_pattern={"q_proj": 4, "model.layers.1.self_attn.v_proj": 2},
                                 alpha_pattern={"down_proj": 3}, task_type="CAUSAL_LM"),
     {"notes": "per-module r / lora_alpha / scaling in case.json wrapped_modules"}),
    ("layers-to-transform", "llama-mha", dict(target_modules=["q_proj", "v_proj", "gate_proj"],
                                              layers_to_transform=[1], layers_pattern="layers",
                                              task_type="CAUSAL_LM"), {}),
    ("layers-pattern-dotted", "llama-mha", dict(target_modules=["q_proj", "v_proj", "gate_proj"],
                                                layers_to_transform=[1], layers_pattern="model.layers",
                                                task_type="CAUSAL_LM"),
     {"notes": "layers_pattern starting the module name: PEFT's regex (?:^|.*?\\.)model.layers\\.(\\d+)\\."}),
    ("layers-pattern-gpt2", "gpt2", dict(target_modules=["c_attn"], fan_in_fan_out=True, layers_to_transform=0,
                                         layers_pattern="transformer.h", task_type="CAUSAL_LM"),
     {"notes": "layers_pattern 'transformer.h' (starts the name), layers_to_transform an int"}),
    ("modules-to-save", "llama-mha", dict(target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head"],
                                          task_type="CAUSAL_LM"),
     {"notes": "lm_head is wrapped in ModulesToSaveWrapper; the trainable copy (original + noise) is saved as "
               "base_model.model.lm_head.weight; base_logits use original_module."}),
    ("embedding", "llama-mha", dict(target_modules=["embed_tokens", "q_proj"], task_type="CAUSAL_LM"),
     {"notes": "LoRA on nn.Embedding: lora_embedding_A [r, V], lora_embedding_B [hidden, r] (parameters, no "
               ".weight suffix). save_embedding_layers='auto' also saves the full base embedding matrix as "
               "...embed_tokens.base_layer.weight (lm_head is not saved)."}),
    ("dora", "llama-gqa", dict(target_modules=["q_proj", "v_proj", "o_proj"], use_dora=True,
                               task_type="CAUSAL_LM"),
     {"merged": True, "notes": "DoRA; o_proj has a base bias. magnitude = ||W + s*B*A||_row * (1 + 0.1*randn)."}),
    ("two-adapters", "llama-mha", dict(target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
     {"second": dict(target_modules=["k_proj", "o_proj"], r=4, lora_alpha=8, task_type="CAUSAL_LM"),
      "notes": "adapter 'default' (q,v) in adapter/, adapter 'second' (k,o; r=4, alpha=8) in adapter/second/. "
               "logits: default active; logits_second: set_adapter('second'); logits_both: "
               "base_model.set_adapter(['default','second'])."}),
    ("lora-bias", "llama-gqa", dict(target_modules=["o_proj"], lora_bias=True, task_type="CAUSAL_LM"),
     {"merged": True, "notes": "lora_bias=True: lora_B has a bias (saved as ...lora_B.bias), added * scaling."}),
    ("default-targets", "qwen2", dict(target_modules=None, task_type="CAUSAL_LM"),
     {"notes": "target_modules None -> PEFT's default for model_type qwen2"}),
    ("exclude", "mistral", dict(target_modules="all-linear", exclude_modules=["down_proj"], task_type="CAUSAL_LM"), {}),
    ("string-regex", "llama-gqa", dict(target_modules=r".*\.layers\.0\..*(q_proj|up_proj)"),
     {"notes": "target_modules is a str -> re.fullmatch against the module name. task_type is None here "
               "(plain PeftModel; adapter_config.json gets auto_mapping)."}),
]


# --------------------------------------------------------------------------------------------------

def rel(path):
    return os.path.relpath(path, REPO)


def load_base(name):
    model = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, name), attn_implementation="eager",
                                                 dtype=torch.float32)
    model.eval()
    # base_model_name_or_path in adapter_config.json / README.md: repo-relative, not this machine's path
    model.name_or_path = f"interop/fixtures/models/{name}"
    model.config.name_or_path = f"interop/fixtures/models/{name}"
    return model


def case_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def make_inputs(gen, vocab, length, n_pad):
    ids = torch.randint(3, vocab, (2, length), generator=gen, dtype=torch.int64)
    mask = torch.ones((2, length), dtype=torch.int64)
    ids[1, :n_pad] = PAD_ID
    mask[1, :n_pad] = 0
    return ids, mask


@torch.no_grad()
def randomise_(model, gen):
    """Give every adapter parameter (all adapters, active or not) fresh values. Returns a summary."""
    counts = {}

    def bump(kind, p):
        counts[kind] = counts.get(kind, 0) + p.numel()

    def randn(p):
        return torch.randn(p.shape, generator=gen, dtype=torch.float32)

    for n, p in model.named_parameters():
        if "lora_magnitude_vector" in n:
            continue  # below, needs the randomised A/B
        if ".lora_A." in n or ".lora_B." in n or ".lora_embedding_A." in n or ".lora_embedding_B." in n:
            p.copy_(randn(p) * LORA_STD)
            bump("lora", p)
        elif ".modules_to_save." in n:
            p.add_(randn(p) * MTS_STD)
            bump("modules_to_save", p)
        elif p.requires_grad:
            assert n.endswith(".bias"), f"unexpected trainable parameter {n}"
            p.add_(randn(p) * BIAS_STD)
            bump("base_bias", p)
    for mname, m in model.named_modules():
        if isinstance(m, LoraLayer):
            for a in m.lora_magnitude_vector:
                W = m.get_base_layer().weight
                assert not m.fan_in_fan_out
                lw = m.lora_B[a].weight @ m.lora_A[a].weight
                norm = (W + m.scaling[a] * lw).norm(p=2, dim=1)
                mag = m.lora_magnitude_vector[a].weight
                mag.copy_(norm * (1.0 + MAG_JITTER * randn(mag)))
                bump("dora_magnitude", mag)
    return counts


def logits_of(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits.detach().float().contiguous()


def maxdiff(a, b, mask=None):
    d = (a - b).abs()
    if mask is not None:
        d = d[mask.bool()]
    return float(d.max())


def wrapped_modules(model, adapter):
    """{inner-model module name: [r, lora_alpha, scaling, layer class]} for every LoRA layer holding `adapter`."""
    out = {}
    inner = model.base_model.model
    for n, m in inner.named_modules():
        if isinstance(m, LoraLayer) and adapter in m.r:
            out[n] = [int(m.r[adapter]), m.lora_alpha[adapter], float(m.scaling[adapter]), type(m).__name__]
    return out


def mts_modules(model):
    return [n for n, m in model.base_model.model.named_modules() if isinstance(m, ModulesToSaveWrapper)]


def saved_keys(folder):
    with safe_open(os.path.join(folder, "adapter_model.safetensors"), "pt") as f:
        meta = f.metadata()
        keys = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    return keys, meta


def clean_warning(msg):
    return str(msg).replace(REPO + os.sep, "").replace(REPO, "<repo>")


def record_warnings(rec):
    seen = []
    for w in rec:
        m = f"{w.category.__name__}: {clean_warning(w.message)}"
        if m not in seen:
            seen.append(m)
    return seen


def to_json(obj, ind=0):
    """json with one space of indent per level, but lists of scalars on one line."""
    pad = " " * (ind + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}{json.dumps(str(k))}: {to_json(v, ind + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * ind + "}"
    if isinstance(obj, (list, tuple)):
        flat = all(not isinstance(v, (dict, list, tuple)) for v in obj)
        shallow = all(not isinstance(v, dict) and not (isinstance(v, (list, tuple)) and not all(
            not isinstance(x, (dict, list, tuple)) for x in v)) for v in obj)
        if flat or (shallow and len(json.dumps(obj)) <= 100):
            return json.dumps(obj)
        return "[\n" + ",\n".join(pad + to_json(v, ind + 1) for v in obj) + "\n" + " " * ind + "]"
    return json.dumps(obj)


def dump_json(path, obj):
    with open(path, "w") as f:
        f.write(to_json(obj))
        f.write("\n")


def versions():
    return {"python": sys.version.split()[0], "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__,
            "safetensors": safetensors.__version__}


# --------------------------------------------------------------------------------------------------

def build_case(out_root, name, model_name, kw, opts):
    seed = case_seed(name)
    gen = torch.Generator().manual_seed(seed)
    folder = os.path.join(out_root, name)
    adapter_dir = os.path.join(folder, "adapter")
    os.makedirs(folder)
    kw = dict(BASE_KW, **kw)
    info = {"model": model_name}

    with warnings.catch_warnings(record=True) as wrec:
        warnings.simplefilter("always")
        base = load_base(model_name)
        vocab = base.config.vocab_size
        ids, mask = make_inputs(gen, vocab, SEQ_LEN, N_PAD_ROW1)
        original_base = logits_of(base, ids, mask)

        model = get_peft_model(base, LoraConfig(**kw))
        trainable, total = model.get_nb_trainable_parameters()
        adapters = {"default": "adapter"}
        extra_counts = None
        if "second" in opts:
            model.add_adapter("second", LoraConfig(**dict(BASE_KW, **opts["second"])))
            adapters["second"] = "adapter/second"
            t2, a2 = model.get_nb_trainable_parameters()
            extra_counts = {"trainable_params": t2, "all_params": a2}
        randomised = randomise_(model, gen)
        model.eval()

        t = {"input_ids": ids, "attention_mask": mask}
        t["logits"] = logits_of(model, ids, mask)
        with model.disable_adapter():
            t["base_logits"] = logits_of(model, ids, mask)
        if "second" in opts:
            model.set_adapter("second")
            t["logits_second"] = logits_of(model, ids, mask)
            model.base_model.set_adapter(["default", "second"])
            t["logits_both"] = logits_of(model, ids, mask)
            model.set_adapter("default")
            assert torch.equal(logits_of(model, ids, mask), t["logits"])

        obs = {"logits_vs_base_logits_max_abs": maxdiff(t["logits"], t["base_logits"], mask),
               "base_logits_vs_original_base_max_abs": maxdiff(t["base_logits"], original_base, mask)}
        for k in ("logits_second", "logits_both"):
            if k in t:
                obs[f"{k}_vs_base_logits_max_abs"] = maxdiff(t[k], t["base_logits"], mask)
                obs[f"{k}_vs_logits_max_abs"] = maxdiff(t[k], t["logits"], mask)
                assert obs[f"{k}_vs_base_logits_max_abs"] > MIN_EFFECT and obs[f"{k}_vs_logits_max_abs"] > MIN_EFFECT
        assert obs["logits_vs_base_logits_max_abs"] > MIN_EFFECT, (name, obs)
        if kw.get("bias", "none") == "none":
            assert torch.equal(t["base_logits"], original_base), name
        assert all(torch.isfinite(v).all() for v in t.values() if v.is_floating_point())

        wrapped = {a: wrapped_modules(model, a) for a in adapters}
        mts = mts_modules(model)

        model.save_pretrained(adapter_dir)

        # ---- round trip: fresh base + PeftModel.from_pretrained reproduces everything
        base2 = load_base(model_name)
        re = PeftModel.from_pretrained(base2, adapter_dir)
        for a in adapters:
            if a != "default":
                re.load_adapter(os.path.join(folder, adapters[a]), adapter_name=a)
        re.eval()
        obs["reload_logits_max_abs"] = maxdiff(logits_of(re, ids, mask), t["logits"])
        with re.disable_adapter():
            obs["reload_base_logits_max_abs"] = maxdiff(logits_of(re, ids, mask), t["base_logits"])
        if "second" in opts:
            re.set_adapter("second")
            obs["reload_logits_second_max_abs"] = maxdiff(logits_of(re, ids, mask), t["logits_second"])
            re.base_model.set_adapter(["default", "second"])
            obs["reload_logits_both_max_abs"] = maxdiff(logits_of(re, ids, mask), t["logits_both"])
            re.set_adapter("default")
        for k, v in obs.items():
            if k.startswith("reload_"):
                assert v <= RELOAD_TOL, (name, k, v)

        # ---- merge_and_unload on the reloaded copy (active adapter = default)
        merged = re.merge_and_unload()
        merged_logits = logits_of(merged, ids, mask)
        obs["merged_logits_vs_logits_max_abs"] = maxdiff(merged_logits, t["logits"], mask)
        obs["merged_logits_vs_logits_max_abs_all_positions"] = maxdiff(merged_logits, t["logits"])
        assert obs["merged_logits_vs_logits_max_abs"] < 1e-3, (name, obs)
        if opts.get("merged"):
            t["merged_logits"] = merged_logits
    warn_list = record_warnings(wrec)

    t = {k: v.contiguous() for k, v in t.items()}
    save_file(t, os.path.join(folder, "expected.safetensors"), metadata={"case": name})

    saved = {}
    saved_meta = {}
    cfg_target = {}
    for a, relp in adapters.items():
        keys, meta = saved_keys(os.path.join(folder, relp))
        saved[a] = keys
        saved_meta[a] = meta
        with open(os.path.join(folder, relp, "adapter_config.json")) as f:
            cfg_target[a] = json.load(f)["target_modules"]

    case = {
        "model": model_name,
        "adapters": adapters,
        "peft_version": peft.__version__,
        "notes": opts.get("notes", ""),
        "trainable_params": trainable,
        "all_params": total,
    }
    if extra_counts:
        case["after_add_adapter_second"] = extra_counts
    case.update({
        "lora_config_kwargs": {"default": kw, **({"second": dict(BASE_KW, **opts["second"])}
                                                   if "second" in opts else {})},
        "adapter_config_target_modules": cfg_target,
        "wrapped_modules": wrapped,
        "modules_to_save_wrappers": mts,
        "saved_keys": saved,
        "saved_metadata": saved_meta,
        "tensors": {k: [str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in sorted(t.items())},
        "inputs": "input_ids int64 [2, 7], tokens in [3, V); row 1 left-padded by 2 with pad id 0; "
                  "forward(input_ids, attention_mask) without position_ids (positions 0..6 in both rows); "
                  "logits at attention_mask == 0 positions are finite garbage (fully masked query rows).",
        "seed": seed,
        "randomised_numel": randomised,
        "observations": obs,
        "warnings": warn_list,
        "versions": versions(),
    })
    dump_json(os.path.join(folder, "case.json"), case)
    print(f"[{name}] trainable={trainable} all={total} wrapped={ {a: len(w) for a, w in wrapped.items()} } "
          f"obs={ {k: round(v, 7) for k, v in obs.items()} }", flush=True)
    return case


def build_train_step(out_root):
    name = "train-step"
    model_name = "llama-mha"
    seed = case_seed(name)
    gen = torch.Generator().manual_seed(seed)
    folder = os.path.join(out_root, name)
    adapter_dir = os.path.join(folder, "adapter")
    os.makedirs(folder)
    kw = dict(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, task_type="CAUSAL_LM")

    with warnings.catch_warnings(record=True) as wrec:
        warnings.simplefilter("always")
        base = load_base(model_name)
        vocab = base.config.vocab_size
        ids, mask = make_inputs(gen, vocab, TRAIN_LEN, TRAIN_PAD_ROW1)
        labels = ids.clone()
        labels[mask == 0] = -100
        labels[0, :TRAIN_MASKED_PROMPT] = -100
        labels[1, TRAIN_PAD_ROW1:TRAIN_PAD_ROW1 + TRAIN_MASKED_PROMPT] = -100

        model = get_peft_model(base, LoraConfig(**kw))
        trainable, total = model.get_nb_trainable_parameters()
        randomised = randomise_(model, gen)
        model.save_pretrained(adapter_dir)
        model.train()  # no dropout anywhere (lora_dropout 0, attention_dropout 0): same as eval numerically

        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
    warn_list = record_warnings(wrec)

    t = {"input_ids": ids, "attention_mask": mask, "labels": labels,
         "loss": out.loss.detach().float().reshape(())}
    grad_names = []
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert ".lora_A." in n or ".lora_B." in n, n
            assert p.grad is not None, n
            t["grad." + n] = p.grad.detach().float().contiguous()
            grad_names.append(n)
        else:
            assert p.grad is None, f"base parameter {n} has a grad"
    assert len(grad_names) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)
    # independent check of the loss definition: shift by one, ignore -100, mean over counted tokens
    with torch.no_grad():
        lg = out.logits[:, :-1].reshape(-1, vocab)
        tg = labels[:, 1:].reshape(-1)
        ref = torch.nn.functional.cross_entropy(lg, tg, ignore_index=-100, reduction="mean")
    loss_check = float((ref - out.loss.detach()).abs())
    assert loss_check < 1e-6, loss_check
    t = {k: v.contiguous() for k, v in t.items()}
    save_file(t, os.path.join(folder, "expected.safetensors"), metadata={"case": name})
    keys, meta = saved_keys(adapter_dir)
    case = {
        "model": model_name,
        "adapters": {"default": "adapter"},
        "peft_version": peft.__version__,
        "notes": "One training step: out = model(input_ids, attention_mask, labels); out.loss.backward(). "
                 "Loss = transformers' causal-LM loss (logits[:, :-1] vs labels[:, 1:], ignore_index -100, mean "
                 "over counted tokens). loss is a rank-0 float32 tensor (shape []). grad.<in-memory PEFT name> "
                 "for every trainable (LoRA) parameter; no base parameter gets a grad. The adapter folder holds "
                 "the weights BEFORE the step (no optimizer step is taken). Model in train() mode; no dropout.",
        "trainable_params": trainable,
        "all_params": total,
        "lora_config_kwargs": {"default": kw},
        "labels_rule": "labels = input_ids; -100 where attention_mask == 0 and at the first 3 real tokens of each row",
        "counted_tokens": int((labels[:, 1:] != -100).sum()),
        "loss": float(t["loss"]),
        "loss_vs_manual_cross_entropy_abs": loss_check,
        "grad_names": grad_names,
        "saved_keys": {"default": keys},
        "saved_metadata": {"default": meta},
        "tensors": {k: [str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in sorted(t.items())},
        "seed": seed,
        "randomised_numel": randomised,
        "warnings": warn_list,
        "versions": versions(),
    }
    dump_json(os.path.join(folder, "case.json"), case)
    print(f"[{name}] loss={float(t['loss'])} grads={len(grad_names)} trainable={trainable} all={total}", flush=True)


def tree_hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return dict(sorted(out.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "lora"))
    ap.add_argument("--cases", nargs="*", help="only these cases (default: all + train-step)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.set_seed(0)
    print("versions:", versions(), flush=True)

    out = args.out
    wanted = set(args.cases) if args.cases else None
    if wanted is None and os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    for name, model_name, kw, opts in CASES:
        if wanted is not None and name not in wanted:
            continue
        if os.path.isdir(os.path.join(out, name)):
            shutil.rmtree(os.path.join(out, name))
        build_case(out, name, model_name, kw, opts)
    if wanted is None or "train-step" in wanted:
        if os.path.isdir(os.path.join(out, "train-step")):
            shutil.rmtree(os.path.join(out, "train-step"))
        build_train_step(out)

    hashes = tree_hashes(out)
    size = sum(os.path.getsize(os.path.join(out, p)) for p in hashes)
    print(f"wrote {len(hashes)} files, {size} bytes under {rel(out)}")
    print("tree sha256:", hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest())
    if wanted is None:
        assert size < 1_500_000, size


if __name__ == "__main__":
    main()
