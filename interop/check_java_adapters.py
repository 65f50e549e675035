#!/usr/bin/env python3
"""Java -> Python LoRA check: load adapters written by peft4j with Hugging Face PEFT and compare logits.

Input: ``interop/fixtures/java-adapters/<case>/`` (written by the Java side), each with

  adapter/                  adapter_config.json + adapter_model.safetensors ("default");
                            other adapter names in adapter/<name>/
  expected.safetensors      input_ids, attention_mask (int64 [B, T]) and logits (float32 [B, T, V]) that Java computed
  case.json                 {"model": "<fixture model name>", "adapter_names": ["default", ...], "active": ["default"]}

For every case the base model ``interop/fixtures/models/<model>`` is loaded (eager attention, float32, eval),
the first adapter with ``PeftModel.from_pretrained(base, adapter_dir, adapter_name=...)``, the others with
``load_adapter(adapter_dir/<name>, adapter_name=name)``; ``active`` is applied (one name: set_adapter(name),
several: model.base_model.set_adapter([...])) and the logits are recomputed with the same input_ids /
attention_mask (no position_ids).  Output: ``<root>/report.json``

  {"peft_version", "torch_version", "transformers_version", "tolerance",
   "cases": {case: {"max_abs_diff", "max_abs_diff_all_positions", "passed", "missing_keys", "unexpected_keys",
                    "warnings", "error", "files_sha256": {relative path: sha256}}}}

max_abs_diff is taken over the positions where attention_mask == 1 (logits at padding positions are not defined
across implementations); passed = max_abs_diff <= tolerance (1e-4) and no missing / unexpected keys and no error.
Missing keys = PEFT's adapter keys that the file did not provide (what from_pretrained warns about as
"Found missing adapter keys"); unexpected keys = file entries that matched no model parameter (PEFT loads with
strict=False and ignores them silently).  Exit status 1 if any case fails, 2 if there is nothing to check.

Usage:  interop/.venv/bin/python interop/check_java_adapters.py [--root DIR] [--tol 1e-4] [--report FILE]
"""

import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def sha256_tree(folder):
    out = {}
    for d, dirs, files in os.walk(folder):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder).replace(os.sep, "/")] = hashlib.sha256(fh.read()).hexdigest()
    return dict(sorted(out.items()))


class LoadRecorder:
    """Records the (missing_keys, unexpected_keys) result of every PeftModel.load_adapter call
    (PeftModel.from_pretrained calls load_adapter too, but only warns about missing keys)."""

    def __init__(self):
        self.results = []
        self._orig = None

    def __enter__(self):
        self._orig = PeftModel.load_adapter
        orig = self._orig
        rec = self.results

        def wrapper(model, model_id, adapter_name, *a, **kw):
            res = orig(model, model_id, adapter_name, *a, **kw)
            rec.append((adapter_name, list(res.missing_keys), list(res.unexpected_keys)))
            return res

        PeftModel.load_adapter = wrapper
        return self

    def __exit__(self, *exc):
        PeftModel.load_adapter = self._orig


def check_case(case_dir, models_dir, tol):
    res = {"max_abs_diff": None, "max_abs_diff_all_positions": None, "passed": False, "missing_keys": [],
           "unexpected_keys": [], "warnings": [], "error": None, "files_sha256": sha256_tree(case_dir)}
    try:
        with open(os.path.join(case_dir, "case.json")) as f:
            case = json.load(f)
        model_name = case["model"]
        names = case.get("adapter_names") or ["default"]
        active = case.get("active") or [names[0]]
        res["model"] = model_name
        res["adapter_names"] = names
        res["active"] = active
        exp = load_file(os.path.join(case_dir, "expected.safetensors"))
        ids = exp["input_ids"].to(torch.int64)
        mask = exp.get("attention_mask")
        mask = torch.ones_like(ids) if mask is None else mask.to(torch.int64)
        java_logits = exp["logits"].to(torch.float32)

        adapter_dir = os.path.join(case_dir, "adapter")

        def path_of(name):
            return adapter_dir if name == "default" else os.path.join(adapter_dir, name)

        with warnings.catch_warnings(record=True) as wrec, LoadRecorder() as lrec:
            warnings.simplefilter("always")
            base = AutoModelForCausalLM.from_pretrained(os.path.join(models_dir, model_name),
                                                        attn_implementation="eager", dtype=torch.float32)
            base.eval()
            model = PeftModel.from_pretrained(base, path_of(names[0]), adapter_name=names[0])
            for n in names[1:]:
                model.load_adapter(path_of(n), adapter_name=n)
            model.eval()
            if len(active) == 1:
                model.set_adapter(active[0])
            else:
                model.base_model.set_adapter(list(active))
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
            # prompt tuning / P-tuning: PEFT's logits include the virtual positions first; Java's drop them
            pc = model.active_peft_config
            if pc.is_prompt_learning and pc.peft_type != "PREFIX_TUNING":
                logits = logits[:, pc.num_virtual_tokens:]
        for adapter_name, missing, unexpected in lrec.results:
            if pc.is_prompt_learning:
                # PEFT copies prompt_embeddings into the prompt encoder itself and still lists the key in
                # load_state_dict's unexpected keys (its own saved prompt adapters report it too)
                unexpected = [k for k in unexpected if k != "prompt_embeddings"]
            res["missing_keys"] += [f"{adapter_name}: {k}" for k in missing]
            res["unexpected_keys"] += [f"{adapter_name}: {k}" for k in unexpected]
        for w in wrec:
            msg = f"{w.category.__name__}: {w.message}"
            if msg not in res["warnings"]:
                res["warnings"].append(msg)
            if "Found missing adapter keys" in str(w.message) and not res["missing_keys"]:
                res["missing_keys"].append(str(w.message))
        if logits.shape != java_logits.shape:
            raise ValueError(f"logits shape: PEFT {list(logits.shape)} vs Java {list(java_logits.shape)}")
        d = (logits - java_logits).abs()
        res["max_abs_diff_all_positions"] = float(d.max())
        res["max_abs_diff"] = float(d[mask.bool()].max())
        res["passed"] = bool(res["max_abs_diff"] <= tol and not res["missing_keys"]
                             and not res["unexpected_keys"])
    except Exception as e:  # a broken case is a failed case, keep checking the others
        res["error"] = f"{type(e).__name__}: {e}"
        res["traceback"] = traceback.format_exc()
        res["passed"] = False
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(HERE, "fixtures", "java-adapters"))
    ap.add_argument("--models", default=os.path.join(HERE, "fixtures", "models"))
    ap.add_argument("--report", default=None, help="default: <root>/report.json")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    if not os.path.isdir(args.root):
        print(f"no such directory: {args.root}", file=sys.stderr)
        return 2
    cases = sorted(d for d in os.listdir(args.root)
                   if os.path.isfile(os.path.join(args.root, d, "case.json")))
    if not cases:
        print(f"no case folders (with case.json) under {args.root}", file=sys.stderr)
        return 2
    report = {"peft_version": peft.__version__, "torch_version": torch.__version__,
              "transformers_version": transformers.__version__, "tolerance": args.tol, "cases": {}}
    for c in cases:
        r = check_case(os.path.join(args.root, c), args.models, args.tol)
        report["cases"][c] = r
        status = "PASS" if r["passed"] else "FAIL"
        print(f"[{status}] {c}: max_abs_diff={r['max_abs_diff']} missing={len(r['missing_keys'])} "
              f"unexpected={len(r['unexpected_keys'])}" + (f" error={r['error']}" if r["error"] else ""),
              flush=True)
    path = args.report or os.path.join(args.root, "report.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    failed = [c for c, r in report["cases"].items() if not r["passed"]]
    print(f"{len(cases) - len(failed)}/{len(cases)} passed; report: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
