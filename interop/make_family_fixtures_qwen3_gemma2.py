#!/usr/bin/env python3
"""Qwen3 and Gemma 2 fixtures for peft4j (issue 14), made with transformers 5.23 + PEFT 0.21.2 (interop/.venv).

Rerun:  /work/main/interop/.venv/bin/python interop/make_family_fixtures_qwen3_gemma2.py
Writes only these paths (the other fixture scripts leave them alone; this one leaves theirs alone):

  models/qwen3/, models/gemma2/           tiny random models (save_pretrained, eager attention); qwen3 has head_dim
                                          16 != hidden/heads = 8 and layer_types [full, sliding] (window 4); gemma2
                                          has window 4 on layer 0, query_pre_attn_scalar 12, soft-capping 5 / 8
  reference/<name>.safetensors|.json      make_fixtures.make_reference: logits, a left-padded batch, greedy
                                          generations (single, left-padded batch, stop on eos), module / parameter
                                          names and shapes
  reference/<name>-grads.safetensors      full fine-tuning loss and gradient of every parameter (format of
                                          make_grad_fixtures.py, same input ids and labels)
  half/<name>.safetensors                 float16 / bfloat16 / float32 logits of a left-padded batch (format of
                                          make_half_fixtures.py)
  families/lora/<name>-default/           make_lora_fixtures.build_case with PEFT's default target modules
                                          (adapter/, expected.safetensors, case.json), plus train.safetensors:
                                          loss and lora_A / lora_B gradients of one training step of the adapter
                                          loaded trainable (input_ids, attention_mask, labels, loss, grad.<name>)
  families/lora/gemma2-embed-tokens/      LoRA (r 4, random A and B) on gemma2's scaled embed_tokens: adapter/,
                                          expected.safetensors (input_ids, attention_mask, logits, base_logits)
  families/prefix/<name>/                 make_prefix_fixtures.make (prefix tuning, 3 virtual tokens): PEFT's
                                          gemma2 branch of get_prompt builds a DynamicCache from the config
  configs/qwen3-0.6b.json, qwen3-8b.json, gemma-2-2b.json   the published config.json values
  configs/counts-qwen3-gemma2.json        make_fixtures.meta_counts of those configs on the meta device

Deterministic: fixed seeds, CPU, one thread, PYTHONHASHSEED=0 (adapter_config.json list order).
"""
import os
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

import shutil  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import Gemma2Config, Gemma2ForCausalLM, Qwen3Config, Qwen3ForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402
import make_grad_fixtures as mgf  # noqa: E402
import make_half_fixtures as mhf  # noqa: E402
import make_lora_fixtures as mlf  # noqa: E402
import make_prefix_fixtures as mpf  # noqa: E402

FIX = os.path.join(HERE, "fixtures")
FAM = os.path.join(FIX, "families")
COMMON = dict(bos_token_id=1, eos_token_id=2, pad_token_id=0, attn_implementation="eager", vocab_size=256,
              hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6)
SPECS = [
    ("qwen3", Qwen3Config, Qwen3ForCausalLM,
     dict(head_dim=16, rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=True,
          sliding_window=4, max_window_layers=1, hidden_act="silu", **COMMON)),
    ("gemma2", Gemma2Config, Gemma2ForCausalLM,
     dict(head_dim=8, query_pre_attn_scalar=12, sliding_window=4, attn_logit_softcapping=5.0,
          final_logit_softcapping=8.0, rope_theta=10000.0, hidden_activation="gelu_pytorch_tanh",
          tie_word_embeddings=True, **COMMON),
     # the tied, sqrt(hidden)-scaled embedding dominates the residual stream at make_fixtures' embed std 0.5 and
     # greedy decoding repeats the prompt's last token; 0.1 gives varied generations
     {"embed_std": 0.1}),
]

REAL_CONFIGS = {
    "qwen3-0.6b": {  # Qwen/Qwen3-0.6B config.json
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
        "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
        "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
        "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
    },
    "qwen3-8b": {  # Qwen/Qwen3-8B config.json
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
        "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 12288,
        "max_position_embeddings": 40960, "max_window_layers": 36, "model_type": "qwen3",
        "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
    },
    "gemma-2-2b": {  # google/gemma-2-2b config.json
        "architectures": ["Gemma2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1,
        "final_logit_softcapping": 30.0, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2304, "initializer_range": 0.02,
        "intermediate_size": 9216, "max_position_embeddings": 8192, "model_type": "gemma2",
        "num_attention_heads": 8, "num_hidden_layers": 26, "num_key_value_heads": 4, "pad_token_id": 0,
        "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096,
        "torch_dtype": "float32", "use_cache": True, "vocab_size": 256000,
    },
}
mf.HUB_REPOS.update({"qwen3-0.6b": "Qwen/Qwen3-0.6B", "qwen3-8b": "Qwen/Qwen3-8B", "gemma-2-2b": "google/gemma-2-2b"})
mf.LORA_TARGETS.update({"qwen3": ["q_proj", "v_proj"], "gemma2": ["q_proj", "v_proj"]})


def full_grads(name):
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.join(FIX, "models", name), attn_implementation="eager", dtype=torch.float32)
    model.train()
    ids = torch.tensor(mgf.INPUT_IDS, dtype=torch.long)
    labels = torch.tensor(mgf.LABELS, dtype=torch.long)
    out = model(input_ids=ids, labels=labels)
    out.loss.backward()
    t = {"input_ids": ids, "labels": labels, "loss": out.loss.detach().reshape(())}
    for pname, p in model.named_parameters():
        t["grad." + pname] = p.grad.detach().contiguous()
    save_file(t, os.path.join(FIX, "reference", name + "-grads.safetensors"),
              metadata={"format": "pt", "torch": torch.__version__, "transformers": transformers.__version__})
    print(name, "full fine-tuning loss", float(out.loss))


def lora_train_step(case, name):
    folder = os.path.join(FAM, "lora", case)
    exp = load_file(os.path.join(folder, "expected.safetensors"))
    ids, mask = exp["input_ids"], exp["attention_mask"]
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[:, 1] = -100
    pm = PeftModel.from_pretrained(mlf.load_base(name), os.path.join(folder, "adapter"), is_trainable=True)
    pm.train()
    out = pm(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    t = {"input_ids": ids, "attention_mask": mask, "labels": labels, "loss": out.loss.detach().reshape(())}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            t["grad." + n] = p.grad.detach().contiguous()
    assert len(t) > 4
    save_file(t, os.path.join(folder, "train.safetensors"),
              metadata={"torch": torch.__version__, "transformers": transformers.__version__})
    print(case, "LoRA train-step loss", float(out.loss), "grads", len(t) - 4)


def lora_embedding_case():
    """LoRA on Gemma 2's scaled embedding (PEFT multiplies the adapter's output by the layer's embed_scale); random
    A and B (init_lora_weights=False). Not build_case: PEFT's merge of a tied embedding also changes lm_head."""
    from peft import LoraConfig, get_peft_model
    folder = os.path.join(FAM, "lora", "gemma2-embed-tokens")
    os.makedirs(folder)
    torch.manual_seed(9321)
    base = mlf.load_base("gemma2")
    g = torch.Generator().manual_seed(9322)
    ids, mask = mlf.make_inputs(g, base.config.vocab_size, 7, 3)
    with torch.no_grad():
        base_logits = base(input_ids=ids, attention_mask=mask).logits
    pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["embed_tokens"], init_lora_weights=False,
                                         task_type="CAUSAL_LM"))
    pm.eval()
    emb = pm.base_model.model.model.embed_tokens
    assert float(emb._get_embed_scale()) == float(torch.tensor(base.config.hidden_size ** 0.5))
    with torch.no_grad():
        logits = pm(input_ids=ids, attention_mask=mask).logits
    assert (logits - base_logits).abs().max() > 1e-2
    pm.save_pretrained(os.path.join(folder, "adapter"))
    save_file({"input_ids": ids, "attention_mask": mask, "logits": logits.contiguous(),
               "base_logits": base_logits.contiguous()}, os.path.join(folder, "expected.safetensors"),
              metadata={"peft": __import__("peft").__version__, "transformers": transformers.__version__})
    print("gemma2-embed-tokens", float((logits - base_logits).abs().max()))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    transformers.set_seed(0)
    vers = mf.versions()
    for sub in ("lora", "prefix"):
        shutil.rmtree(os.path.join(FAM, sub), ignore_errors=True)
        os.makedirs(os.path.join(FAM, sub))
    for idx, (name, cfg_cls, model_cls, kw, *init) in enumerate(SPECS):
        seed = 9100 + 100 * idx
        model = mf.build_model(cfg_cls, model_cls, kw, seed, init[0] if init else None)
        folder = os.path.join(FIX, "models", name)
        shutil.rmtree(folder, ignore_errors=True)
        model.save_pretrained(folder, safe_serialization=True)
        tensors, info = mf.make_reference(name, model, seed + 50)
        save_file(tensors, os.path.join(FIX, "reference", name + ".safetensors"), metadata={"model": name})
        meta = {"model": name, "model_class": type(model).__name__, "pad_token_id": mf.PAD_ID,
                "reinit": dict(dict(matrix_std=mf.MATRIX_STD, embed_std=mf.EMBED_STD, norm_jitter=mf.NORM_JITTER,
                                    bias_std=mf.BIAS_STD), **(init[0] if init else {})),
                "max_new_tokens": mf.MAX_NEW_TOKENS, "layer_types": model.config.layer_types,
                "sliding_window": model.config.sliding_window}
        meta.update(info)
        meta["saved_safetensors_keys"] = sorted(load_file(os.path.join(folder, "model.safetensors")).keys())
        meta.update(mf.model_metadata(model))
        meta["versions"] = vers
        mf.dump_json(os.path.join(FIX, "reference", name + ".json"), meta)
        mf.REF_INFO[name] = meta
        ok, err = mf.check_reload(folder, load_file(os.path.join(FIX, "reference", name + ".safetensors")), name)
        assert ok, (name, err)
        print(f"[{name}] params={meta['num_parameters']} info={info}", flush=True)
        full_grads(name)
        mhf.NAMES = [name]
        mhf.main(os.path.join(FIX, "half"))
        case = name + "-default"
        mlf.MODELS = os.path.join(FIX, "models")
        mlf.build_case(os.path.join(FAM, "lora"), case, name, dict(task_type="CAUSAL_LM"),
                       {"notes": "LoRA with PEFT's default target modules for " + name})
        lora_train_step(case, name)
        mpf.OUT = os.path.join(FAM, "prefix")
        mpf.make(name, name, dict(), seed + 70)
    lora_embedding_case()
    counts = {}
    for name, cfg in REAL_CONFIGS.items():
        mf.dump_json(os.path.join(FIX, "configs", name + ".json"), cfg)
        counts[name] = mf.meta_counts(name, cfg)
        print(f"[config {name}] total={counts[name]['num_parameters']:,}")
    counts["_versions"] = vers
    mf.dump_json(os.path.join(FIX, "configs", "counts-qwen3-gemma2.json"), counts)
    for name, *_unused in SPECS:
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(FIX, "models", name))
                   for f in fs)
        print(name, "model bytes", size)


if __name__ == "__main__":
    main()
