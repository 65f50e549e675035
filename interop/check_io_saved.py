#!/usr/bin/env python3
"""Java -> Python 4-bit check: load model folders that peft4j saved in 4 bits with transformers + bitsandbytes.

Input: ``interop/fixtures/io/java-saved/<case>/`` (written by the Java program org.peft4j.qlora.JavaSavedFixtures,
peft-qlora test sources), each with

  model/                  config.json (with quantization_config) + model.safetensors, as peft4j's savePretrained wrote
  expected.safetensors    input_ids (int64 [B, T]), logits (float32 [B, T, V]) and generate (int64 [1, P + N]: greedy,
                          KV cache, from the first row's first P ids) that Java computed on its 4-bit model
  case.json               {"linear4bit": [module names peft4j quantized], ...}

Per case: ``AutoModelForCausalLM.from_pretrained(model/, device_map="cpu", attn_implementation="eager")`` (no
quantization_config argument: transformers must recognise the checkpoint by itself), on bitsandbytes' portable path
(native library refused, as make_io_fixtures.py does), recomputes the logits and the greedy generation. Output:
``<root>/report.json``

  {"torch_version", "transformers_version", "bitsandbytes_version", "tolerance",
   "cases": {case: {"max_abs_diff", "generate_equal", "linear4bit_equal", "load_warnings", "missing_or_unexpected",
                    "passed", "error", "files_sha256": {path relative to the case folder: sha256 hex, every file}}}}

passed = max_abs_diff <= tolerance (1e-4) and the same greedy tokens and the same Linear4bit modules and no
"missing"/"unexpected"/"not initialized" load warning and no error. Exit status 1 if any case fails, 2 if there is
nothing to check.

Usage:  /work/main/interop/.venv/bin/python interop/check_io_saved.py [--root DIR] [--tol 1e-4]
"""

import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ctypes  # noqa: E402

_load_library = ctypes.cdll.LoadLibrary


def _refuse_bnb_native(path, *args, **kwargs):
    if "libbitsandbytes" in str(path):
        raise OSError("check_io_saved: bitsandbytes' native library refused (portable path forced): " + str(path))
    return _load_library(path, *args, **kwargs)


ctypes.cdll.LoadLibrary = _refuse_bnb_native

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.nn.modules as bnb_modules  # noqa: E402
import transformers  # noqa: E402
from bitsandbytes.cextension import ErrorHandlerMockBNBNativeLibrary, lib as bnb_lib  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

bnb_modules.has_avx512bf16 = lambda: False
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


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def check_case(case_dir, tol):
    res = {"max_abs_diff": None, "generate_equal": False, "linear4bit_equal": False, "load_warnings": [],
           "missing_or_unexpected": [], "passed": False, "error": None, "files_sha256": sha256_tree(case_dir)}
    try:
        assert isinstance(bnb_lib, ErrorHandlerMockBNBNativeLibrary)
        with open(os.path.join(case_dir, "case.json")) as f:
            case = json.load(f)
        exp = load_file(os.path.join(case_dir, "expected.safetensors"))
        cap = Capture()
        tl = logging.getLogger("transformers")
        tl.addHandler(cap)
        try:
            with warnings.catch_warnings(record=True) as wrec:
                warnings.simplefilter("always")
                m = AutoModelForCausalLM.from_pretrained(os.path.join(case_dir, "model"), device_map="cpu",
                                                         attn_implementation="eager").eval()
        finally:
            tl.removeHandler(cap)
        msgs = cap.records + [f"{w.category.__name__}: {w.message}" for w in wrec]
        res["load_warnings"] = sorted(set(msgs))
        res["missing_or_unexpected"] = [w for w in res["load_warnings"]
                                        if any(s in w.lower() for s in ("missing", "unexpected", "not initialized",
                                                                        "mismatch"))]
        names = sorted(n for n, mod in m.named_modules() if isinstance(mod, bnb.nn.Linear4bit))
        res["linear4bit"] = names
        res["linear4bit_equal"] = names == sorted(case["linear4bit"])
        for mod in m.modules():
            if isinstance(mod, bnb.nn.Linear4bit):
                assert not mod.support_avx512bf16_for_cpu
        ids = exp["input_ids"].to(torch.int64)
        with torch.no_grad():
            logits = m(input_ids=ids).logits.float()
            want = exp["generate"]
            prompt = want.shape[1] - int(case["new_tokens"])
            gen = m.generate(ids[:1, :prompt], max_new_tokens=int(case["new_tokens"]),
                             min_new_tokens=int(case["new_tokens"]), do_sample=False, use_cache=True, pad_token_id=0)
        if logits.shape != exp["logits"].shape:
            raise ValueError(f"logits shape: transformers {list(logits.shape)} vs Java {list(exp['logits'].shape)}")
        res["max_abs_diff"] = float((logits - exp["logits"]).abs().max())
        res["generate"] = gen.tolist()
        res["generate_equal"] = bool(torch.equal(gen, want))
        res["passed"] = bool(res["max_abs_diff"] <= tol and res["generate_equal"] and res["linear4bit_equal"]
                             and not res["missing_or_unexpected"])
    except Exception as e:  # a broken case is a failed case
        res["error"] = f"{type(e).__name__}: {e}"
        res["traceback"] = traceback.format_exc()
        res["passed"] = False
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(HERE, "fixtures", "io", "java-saved"))
    ap.add_argument("--report", default=None, help="default: <root>/report.json")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if not os.path.isdir(args.root):
        print(f"no such directory: {args.root}", file=sys.stderr)
        return 2
    cases = sorted(d for d in os.listdir(args.root) if os.path.isfile(os.path.join(args.root, d, "case.json")))
    if not cases:
        print(f"no case folders (with case.json) under {args.root}", file=sys.stderr)
        return 2
    report = {"torch_version": torch.__version__, "transformers_version": transformers.__version__,
              "bitsandbytes_version": bnb.__version__, "bnb_backend": "default (pure torch; native library refused)",
              "tolerance": args.tol, "cases": {}}
    for c in cases:
        r = check_case(os.path.join(args.root, c), args.tol)
        report["cases"][c] = r
        print(f"[{'PASS' if r['passed'] else 'FAIL'}] {c}: max_abs_diff={r['max_abs_diff']} "
              f"generate_equal={r['generate_equal']} linear4bit_equal={r['linear4bit_equal']}"
              + (f" warnings={r['missing_or_unexpected']}" if r["missing_or_unexpected"] else "")
              + (f" error={r['error']}" if r["error"] else ""), flush=True)
    path = args.report or os.path.join(args.root, "report.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    failed = [c for c, r in report["cases"].items() if not r["passed"]]
    print(f"{len(cases) - len(failed)}/{len(cases)} passed; report: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
