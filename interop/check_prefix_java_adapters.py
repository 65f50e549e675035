#!/usr/bin/env python3
"""Java -> Python prefix-tuning check: PEFT loads the prefix adapters peft4j saved and reproduces Java's logits
and greedy generations.

Input: ``interop/fixtures/prefix/java-adapters/<case>/`` (written by peft4j's
PrefixJavaAdapterFixturesTest#regenerate), each with adapter/ (adapter_config.json + adapter_model.safetensors),
expected.safetensors (input_ids, attention_mask, logits; gen_input_ids, gen_attention_mask, generated) and
case.json ({"model": ...}).  PEFT's load_adapter lists "prompt_embeddings" as an unexpected key for every
prompt-learning adapter, its own included (the key is loaded into the prompt encoder separately), so that one key
is moved to "unexpected_keys_peft_reports_for_its_own_adapters".  Per case, the logits check is interop/check_java_adapters.py's ``check_case``
(PeftModel.from_pretrained on the eager float32 base, logits with the same input_ids / attention_mask, max abs
difference over unpadded positions <= 1e-4, no missing or unexpected keys); on top of it PEFT's
``generate(gen_input_ids, gen_attention_mask, max_new_tokens=6, do_sample=False, pad_token_id=0)`` must equal
``generated`` token for token ("generation_equal").  Output: ``<root>/report.json`` (same layout as
check_java_adapters.py's, plus "generation_equal").  Exit status 1 if any case fails.

Usage:  /work/main/interop/.venv/bin/python interop/check_prefix_java_adapters.py
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check_java_adapters as cja  # noqa: E402
import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

ROOT = os.path.join(cja.HERE, "fixtures", "prefix", "java-adapters")
MODELS = os.path.join(cja.HERE, "fixtures", "models")
TOL = 1e-4


def generation_equal(case_dir):
    with open(os.path.join(case_dir, "case.json")) as f:
        model_name = json.load(f)["model"]
    exp = load_file(os.path.join(case_dir, "expected.safetensors"))
    base = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, model_name), attn_implementation="eager",
                                                dtype=torch.float32)
    base.eval()
    model = PeftModel.from_pretrained(base, os.path.join(case_dir, "adapter"))
    model.eval()
    with torch.no_grad():
        out = model.generate(input_ids=exp["gen_input_ids"], attention_mask=exp["gen_attention_mask"],
                             max_new_tokens=6, do_sample=False, pad_token_id=0)
    return bool(torch.equal(out, exp["generated"])), out.tolist()


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    cases = sorted(d for d in os.listdir(ROOT) if os.path.isfile(os.path.join(ROOT, d, "case.json")))
    if not cases:
        return 2
    report = {"peft_version": peft.__version__, "torch_version": torch.__version__,
              "transformers_version": transformers.__version__, "tolerance": TOL, "cases": {}}
    for c in cases:
        d = os.path.join(ROOT, c)
        r = cja.check_case(d, MODELS, TOL)
        # PEFT's load_adapter reports the prompt-learning key as unexpected for its own adapters too (it is loaded
        # separately into the prompt encoder after model.load_state_dict(strict=False)): not a defect of the file
        own = [k for k in r["unexpected_keys"] if k == "default: prompt_embeddings"]
        r["unexpected_keys"] = [k for k in r["unexpected_keys"] if k not in own]
        r["unexpected_keys_peft_reports_for_its_own_adapters"] = own
        try:
            r["generation_equal"], r["peft_generated"] = generation_equal(d)
        except Exception as e:  # noqa: BLE001
            r["generation_equal"] = False
            r["error"] = r["error"] or f"{type(e).__name__}: {e}"
        r["passed"] = bool(r["error"] is None and r["max_abs_diff"] is not None and r["max_abs_diff"] <= TOL
                           and not r["missing_keys"] and not r["unexpected_keys"] and r["generation_equal"])
        r.pop("traceback", None)
        report["cases"][c] = r
        print(f"[{'PASS' if r['passed'] else 'FAIL'}] {c}: max_abs_diff={r['max_abs_diff']} "
              f"generation_equal={r['generation_equal']} error={r['error']}", flush=True)
    with open(os.path.join(ROOT, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    return 0 if all(r["passed"] for r in report["cases"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
