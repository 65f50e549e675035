#!/usr/bin/env python3
"""Java -> Python QLoRA check: PEFT loads the adapter peft4j trained on the 4-bit tiny Llama and reproduces peft4j's
logits.

Input: ``interop/fixtures/layer/java-qlora/`` (written by peft4j's ``QloraJavaAdapterFixture``): ``adapter/``
(PeftModel.savePretrained), ``expected.safetensors`` (input_ids, attention_mask, logits computed by peft4j).
The base ``interop/fixtures/layer/qlora/base`` (transformers' 4-bit save) is loaded with
``BitsAndBytesConfig(load_in_4bit, nf4, double quant, compute float32)`` on bitsandbytes' portable path
(interop/bnb_portable.py), the adapter with ``PeftModel.from_pretrained``, and the logits are recomputed.
Output: ``java-qlora/report.json`` with versions, max |PEFT - peft4j| over positions whose mask is 1, the tolerance
(1e-4), missing / unexpected adapter keys, passed, and the sha256 of every input file (so the verdict names the exact
files). Exit status 1 if the check fails.

Usage:  interop/.venv/bin/python interop/check_layer_java_adapter.py [DIR]
"""

import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_portable  # noqa: E402  (before bitsandbytes)

import hashlib  # noqa: E402
import json  # noqa: E402
import warnings  # noqa: E402

import bitsandbytes  # noqa: E402
import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "layer", "java-qlora")
    base_dir = os.path.join(HERE, "fixtures", "layer", "qlora", "base")
    torch.set_num_threads(1)
    bnb_portable.assert_portable()
    cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(base_dir, quantization_config=cfg, device_map="cpu",
                                                dtype=torch.float32, attn_implementation="eager")
    with warnings.catch_warnings(record=True) as wrec:
        warnings.simplefilter("always")
        pm = PeftModel.from_pretrained(base, os.path.join(d, "adapter"))
    msgs = [str(w.message) for w in wrec]
    missing = [m for m in msgs if "missing adapter keys" in m]
    sd = load_file(os.path.join(d, "adapter", "adapter_model.safetensors"))
    names = {n for n, _ in pm.named_parameters()}
    unexpected = [k for k in sd if k.replace(".weight", ".default.weight") not in names]
    exp = load_file(os.path.join(d, "expected.safetensors"))
    pm.eval()
    with torch.no_grad():
        logits = pm(input_ids=exp["input_ids"], attention_mask=exp["attention_mask"]).logits
    m = exp["attention_mask"].bool()
    diff = (logits - exp["logits"]).abs()[m].max().item()
    files = {}
    for root, _, fs in os.walk(d):
        for f in sorted(fs):
            if f == "report.json":
                continue
            p = os.path.join(root, f)
            files[os.path.relpath(p, d)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    rep = {"peft_version": peft.__version__, "transformers_version": transformers.__version__,
           "torch_version": torch.__version__, "bitsandbytes_version": bitsandbytes.__version__,
           "lora_type": type(pm.base_model.model.model.layers[0].self_attn.q_proj).__module__ + "."
           + type(pm.base_model.model.model.layers[0].self_attn.q_proj).__name__,
           "tolerance": TOL, "max_abs_diff": diff, "missing_keys": missing, "unexpected_keys": unexpected,
           "passed": diff <= TOL and not missing and not unexpected, "files_sha256": dict(sorted(files.items()))}
    with open(os.path.join(d, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
        f.write("\n")
    print(json.dumps({k: rep[k] for k in ["max_abs_diff", "passed", "lora_type"]}))
    sys.exit(0 if rep["passed"] else 1)


if __name__ == "__main__":
    main()
