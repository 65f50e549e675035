#!/usr/bin/env python3
"""PEFT 0.21.2 facts for peft4j's prompt-learning test battery (peft-prefix PromptLearningBatteryTest).

For each prompt-learning case (prefix tuning with and without projection, prompt tuning, P-tuning MLP and LSTM)
on the tiny Llama GQA and GPT-2 fixture models this records, in ``interop/fixtures/battery/cases.json``:

  model, peft_type, config    the model folder name and the config's arguments
  trainable, all              PeftModel.get_nb_trainable_parameters() after get_peft_model
  line                        what print_trainable_parameters() prints
  trainable_names             the names of the parameters with requires_grad, sorted
  loaded_trainable, loaded_all  get_nb_trainable_parameters() of PeftModel.from_pretrained(fresh base, saved folder)
                              (frozen, and in inference mode the encoder keeps only its embedding)
  adapter_config              the adapter_config.json that save_pretrained writes (base_model_name_or_path and
                              peft_version removed: they name this machine's path and PEFT's build)

Usage:  interop/.venv/bin/python interop/make_battery_fixtures.py [--out interop/fixtures/battery]
(the venv at /work/main/interop/.venv works too).  Deterministic; reads only the committed fixture models.
"""

import os

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402
from peft import PeftModel, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "fixtures", "models")

CONFIGS = {
    "PREFIX_TUNING": PrefixTuningConfig,
    "PROMPT_TUNING": PromptTuningConfig,
    "P_TUNING": PromptEncoderConfig,
}

METHODS = {
    "prefix": ("PREFIX_TUNING", dict(num_virtual_tokens=3)),
    "prefix-proj": ("PREFIX_TUNING", dict(num_virtual_tokens=3, prefix_projection=True, encoder_hidden_size=16)),
    "prompt": ("PROMPT_TUNING", dict(num_virtual_tokens=4)),
    "ptun-mlp": ("P_TUNING", dict(num_virtual_tokens=4, encoder_hidden_size=24)),
    "ptun-lstm": ("P_TUNING", dict(num_virtual_tokens=4, encoder_hidden_size=16,
                                   encoder_reparameterization_type="LSTM")),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "battery"))
    out_dir = ap.parse_args().out
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cases = {}
    for model in ("llama-gqa", "gpt2"):
        for method, (peft_type, args) in METHODS.items():
            base = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, model))
            cfg = CONFIGS[peft_type](task_type="CAUSAL_LM", **args)
            pm = get_peft_model(base, cfg)
            trainable, all_params = pm.get_nb_trainable_parameters()
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                pm.print_trainable_parameters()
            with tempfile.TemporaryDirectory() as tmp:
                pm.save_pretrained(tmp)
                with open(os.path.join(tmp, "adapter_config.json")) as f:
                    saved = json.load(f)
                loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, model)),
                                                   tmp)
                loaded_trainable, loaded_all = loaded.get_nb_trainable_parameters()
            saved.pop("base_model_name_or_path", None)
            saved.pop("peft_version", None)
            cases[f"{method}-{model}"] = {
                "model": model,
                "peft_type": peft_type,
                "config": args,
                "trainable": trainable,
                "all": all_params,
                "loaded_trainable": loaded_trainable,
                "loaded_all": loaded_all,
                "line": buf.getvalue().rstrip("\n"),
                "trainable_names": sorted(n for n, p in pm.named_parameters() if p.requires_grad),
                "adapter_config": saved,
            }
    import peft
    import transformers
    doc = {"versions": {"peft": peft.__version__, "transformers": transformers.__version__,
                        "torch": torch.__version__}, "cases": cases}
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
