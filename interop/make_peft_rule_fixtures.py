#!/usr/bin/env python3
"""Decision tables produced by PEFT 0.21.2's own functions, for peft4j's rule tests.

Writes interop/fixtures/peft-rules/:

  target_module_exists.json  rows of {key, target_modules, layers_to_transform, layers_pattern, matched}:
                             `matched` is bool(peft.tuners.tuners_utils.check_target_module_exists(cfg, key)) for a
                             real peft.LoraConfig(target_modules=..., layers_to_transform=..., layers_pattern=...).
  rslora_warning.json        rows of {use_rslora, rank_pattern, alpha_pattern, init_lora_weights, warns}: whether
                             LoraConfig(...) emits the "Using Rank-Stabilized LoRA with rank_pattern/alpha_pattern ..."
                             warning (captured with warnings.catch_warnings), plus the exact message.
  target_mappings.json       peft.utils.constants' TRANSFORMERS_MODELS_TO_{LORA,IA3,ADALORA}_TARGET_MODULES_MAPPING
                             and TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING, whole.

Run: /work/main/interop/.venv/bin/python interop/make_peft_rule_fixtures.py (or interop/.venv/bin/python).
Deterministic (no randomness); reruns give byte-identical files.
"""
import json
import os
import sys
import warnings

import peft
from peft import LoraConfig
from peft.tuners.tuners_utils import check_target_module_exists

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "peft-rules")

KEYS = [
    "model.layers.0.self_attn.q_proj",
    "model.layers.1.self_attn.q_proj",
    "model.layers.1.self_attn.v_proj",
    "model.layers.12.mlp.down_proj",
    "model.layers.1.mlp.experts.0.q_proj",
    "layers.1.self_attn.q_proj",
    "base_model.model.model.layers.1.self_attn.q_proj",
    "model.decoder.layers.0.self_attn.q_proj",
    "model.decoder.layers.12.mlp.down_proj",
    "transformer.h.3.attn.c_attn",
    "transformer.h.2.attn.c_attn",
    "h.2.attn.c_attn",
    "xmodel.layers.1.self_attn.q_proj",
    "model.embed_tokens",
    "lm_head",
    "q_proj",
]

# (target_modules, layers_to_transform, layers_pattern)
CONFIGS = [
    (["q_proj", "v_proj"], None, None),
    (["q_proj", "v_proj"], [1], None),
    (["q_proj"], [1], []),
    (["q_proj"], [1], "layers"),
    (["q_proj", "v_proj"], [1], "model.layers"),
    (["q_proj"], 1, "model.layers"),
    (["q_proj"], [1], r"model\.layers"),
    (["q_proj"], [0], "model.layers"),
    (["q_proj", "down_proj"], [0, 12], ["model.layers", "decoder.layers"]),
    (["q_proj", "down_proj"], [0, 12], ["decoder.layers", "model.layers"]),
    (["c_attn"], [3], "transformer.h"),
    (["c_attn"], [2, 3], "h"),
    (["c_attn"], [2], ["transformer.h", "h"]),
    (["q_proj"], [1], "layer"),
    (["q_proj"], [1], "odel.layers"),
    (["q_proj"], [1], "lay.rs"),
    (["q_proj"], [1], "model.layers.1.mlp.experts"),
    (["q_proj"], [0], "experts"),
    (["q_proj"], [1], "(model|decoder).layers"),
    (["model.layers.1.self_attn.q_proj"], [0], "model.layers"),
]

RSLORA_INITS = [True, False, "gaussian", "pissa", "pissa_niter_4", "olora", "corda", "lora_ga", "orthogonal"]
RSLORA_PATTERNS = [({}, {}), ({"q_proj": 4}, {}), ({}, {"q_proj": 4}), ({"q_proj": 4}, {"v_proj": 2})]
WARNING_PREFIX = "Using Rank-Stabilized LoRA with rank_pattern/alpha_pattern"


def target_rows():
    rows = []
    for targets, layers, pattern in CONFIGS:
        cfg = LoraConfig(target_modules=list(targets), layers_to_transform=layers, layers_pattern=pattern)
        for key in KEYS:
            rows.append({"key": key, "target_modules": targets, "layers_to_transform": layers,
                         "layers_pattern": pattern, "matched": bool(check_target_module_exists(cfg, key))})
    return rows


def rslora_rows():
    rows = []
    message = None
    for use_rslora in (False, True):
        for rp, ap in RSLORA_PATTERNS:
            for init in RSLORA_INITS:
                with warnings.catch_warnings(record=True) as rec:
                    warnings.simplefilter("always")
                    try:
                        LoraConfig(target_modules=["q_proj", "v_proj"], use_rslora=use_rslora, rank_pattern=rp,
                                   alpha_pattern=ap, init_lora_weights=init)
                    except Exception as e:  # e.g. an init method needing extra config; record and skip
                        rows.append({"use_rslora": use_rslora, "rank_pattern": rp, "alpha_pattern": ap,
                                     "init_lora_weights": init, "error": f"{type(e).__name__}: {e}"})
                        continue
                hits = [str(w.message) for w in rec if str(w.message).startswith(WARNING_PREFIX)]
                if hits:
                    message = hits[0]
                rows.append({"use_rslora": use_rslora, "rank_pattern": rp, "alpha_pattern": ap,
                             "init_lora_weights": init, "warns": bool(hits)})
    return rows, message


def dump(name, obj):
    rows = obj.pop("rows")  # one row per line
    with open(os.path.join(OUT, name), "w") as f:
        head = json.dumps(obj, indent=1)[:-2]
        f.write(head + ',\n "rows": [\n')
        f.write(",\n".join("  " + json.dumps(r) for r in rows))
        f.write("\n ]\n}\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    vers = {"python": sys.version.split()[0], "peft": peft.__version__}
    rows = target_rows()
    dump("target_module_exists.json", {
        "source": "bool(peft.tuners.tuners_utils.check_target_module_exists(LoraConfig(target_modules, "
                  "layers_to_transform, layers_pattern), key))",
        "versions": vers, "rows": rows})
    rrows, msg = rslora_rows()
    assert msg is not None and any(r.get("warns") for r in rrows)
    dump("rslora_warning.json", {
        "source": "LoraConfig(target_modules=['q_proj','v_proj'], use_rslora, rank_pattern, alpha_pattern, "
                  "init_lora_weights) emits the warning (warnings.catch_warnings)",
        "message": msg, "versions": vers, "rows": rrows})
    from peft.utils import constants
    with open(os.path.join(OUT, "target_mappings.json"), "w") as f:
        json.dump({"source": "peft.utils.constants.TRANSFORMERS_MODELS_TO_*_MAPPING", "versions": vers,
                   "mappings": {k: getattr(constants, "TRANSFORMERS_MODELS_TO_" + k + "_MAPPING")
                                for k in ("LORA_TARGET_MODULES", "IA3_TARGET_MODULES", "IA3_FEEDFORWARD_MODULES",
                                          "ADALORA_TARGET_MODULES")}}, f, indent=1)
        f.write("\n")
    print(f"target rows: {len(rows)} ({sum(r['matched'] for r in rows)} matched); rslora rows: {len(rrows)} "
          f"({sum(bool(r.get('warns')) for r in rrows)} warn)")


if __name__ == "__main__":
    main()
