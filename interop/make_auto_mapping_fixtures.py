#!/usr/bin/env python3
"""What PEFT writes as ``auto_mapping`` for an adapter saved without a ``task_type``, per tiny model.

Run with the venv's python (``interop/.venv/bin/python interop/make_auto_mapping_fixtures.py``; a few seconds).
For each committed tiny model in ``fixtures/models`` it wraps the transformers model with a LoRA adapter whose config
has no ``task_type``, saves it with ``save_pretrained`` and records the ``auto_mapping`` of the written
``adapter_config.json`` with the model type and transformers' class.  Writes
``fixtures/reference/auto_mapping.json``.
"""
import json
import os
import tempfile

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "fixtures", "models")
OUT = os.path.join(HERE, "fixtures", "reference", "auto_mapping.json")


def main():
    torch.manual_seed(0)
    result = {"versions": {"peft": peft.__version__, "transformers": transformers.__version__}, "models": {}}
    for name in ["llama-mha", "llama-gqa", "mistral", "qwen2", "gpt2"]:
        path = os.path.join(MODELS, name)
        model = transformers.AutoModelForCausalLM.from_pretrained(path)
        target = ["c_attn"] if model.config.model_type == "gpt2" else ["q_proj"]
        pm = get_peft_model(model, LoraConfig(r=2, target_modules=target))
        with tempfile.TemporaryDirectory() as d:
            pm.save_pretrained(d)
            with open(os.path.join(d, "adapter_config.json")) as f:
                cfg = json.load(f)
        result["models"][name] = {
            "model_type": model.config.model_type,
            "class": type(model).__name__,
            "auto_mapping": cfg["auto_mapping"],
            "task_type": cfg.get("task_type"),
        }
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
