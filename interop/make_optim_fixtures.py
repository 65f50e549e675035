"""bitsandbytes' AdamW (8-bit and 32-bit states) as transformers' Trainer builds it, step by step on CPU.

Run from the repository root: interop/.venv/bin/python interop/make_optim_fixtures.py  (a few seconds).

Writes interop/fixtures/optim/:
- bnb_adamw.safetensors: three parameters with fixed per-step gradients, updated for STEPS steps by the optimizers
  that transformers' get_optimizer_cls_and_kwargs returns for optim="adamw_8bit" and optim="paged_adamw_32bit"
  (both bitsandbytes.optim.AdamW; optim_bits 8 / 32, is_paged False / True; betas and eps from TrainingArguments),
  param groups as the Trainer makes them (one with weight_decay, one without):
    init.<p> float32, grad.<s>.<p> float16 (s = 1..STEPS; the gradients are float16 values, used widened)
    lut.<s>.<p>                            adamw_8bit, states rounded by bitsandbytes' native CPU kernel: the
                                           parameter after step s
    lut.<s>.<p>.state1 / .state2           uint8 codes (8-bit parameters) or float32 moments (small ones)
    lut.<s>.<p>.absmax1 / .absmax2         float32 per 256-block (8-bit parameters only)
    nearest.<s>.<p>[.state1 ...]           the same run with the portable rounding (see below); parameters at
                                           steps 1 and STEPS, states at every step
    32bit.<STEPS>.<p>, 32bit.<STEPS>.<p>.state1/.state2   paged_adamw_32bit
  Parameters: "big" [20, 250] (5000 elements: 19 full 256-blocks + a partial one of 136; its block 3 gets a zero
  gradient, so its absmax stays 0), "vec" [4100] (16 blocks + 4, no weight decay), "small" [3, 50] (150 < min_8bit_size
  4096: 32-bit states even in the 8-bit optimizer).
- bnb_adamw.json: hyper-parameters, transformers' default optim, its OptimizerNames values, the error message for
  an unknown optim name, the optimizer class and kwargs transformers derives for each optim name peft4j supports,
  and the optimizer-state bytes per parameter (state tensors' nbytes, qmaps excluded) of each.

Rounding of the 8-bit states: bitsandbytes' CPU optimizer update dequantizes, updates in float32 and quantizes the
moments again with torch.ops.bitsandbytes.quantize_blockwise. With the native library loaded (any CPU install) that
is the C++ kernel, which rounds through a 65,536-entry lookup table ("lut": a few % of the codes land on a neighbour
of the nearest one). bitsandbytes' portable path (and its CUDA kernel) take the nearest code: for the "nearest" run
this script re-registers the "cpu" kernel of bitsandbytes::quantize_blockwise to redispatch to its
CompositeExplicitAutograd ("default") kernel (bucketize on midpoints), and counts how many codes the two roundings
choose differently (rounding_differences in the JSON).
"""
import json
import os
import warnings

import torch
import transformers
import bitsandbytes as bnb
import bitsandbytes.functional as F
from safetensors.torch import save_file
from transformers import Trainer, TrainingArguments
from transformers.training_args import OptimizerNames

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "optim")
STEPS = 4
LR = 2e-3
BETA1, BETA2, EPS = 0.85, 0.98, 1e-6
WD = 0.1

_Q = torch.ops.bitsandbytes.quantize_blockwise.default
_DEFAULT = torch._C.DispatchKeySet(torch._C.DispatchKey.CompositeExplicitAutograd)
native_diffs = {"state1": 0, "state2": 0, "values": 0}
MODE = {"rounding": "lut"}


def install_rounding_switch():
    def quantize(A, code, blocksize):
        nq, nabsmax = native_call(A, code, blocksize)
        if MODE["rounding"] == "lut":
            return nq, nabsmax
        q, absmax = _Q.redispatch(_DEFAULT, A, code, blocksize)
        key = "state1" if code.min() < 0 else "state2"
        native_diffs[key] += int((nq != q).sum())
        native_diffs["values"] += A.numel()
        return q, absmax

    # the native kernel, kept to count how often it rounds differently
    from bitsandbytes.cextension import lib
    import ctypes as ct
    from bitsandbytes.functional import get_ptr

    def native_call(A, code, blocksize):
        A = A.contiguous()
        n = A.numel()
        absmax = torch.empty((-(n // -blocksize),), dtype=torch.float32)
        out = torch.empty(A.shape, dtype=torch.uint8)
        lib.cquantize_blockwise_cpu_fp32(get_ptr(code), get_ptr(A), get_ptr(absmax), get_ptr(out),
                                         ct.c_longlong(blocksize), ct.c_longlong(n))
        return out, absmax

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.library.register_kernel("bitsandbytes::quantize_blockwise", "cpu")(quantize)


def make_params():
    g = torch.Generator().manual_seed(1234)
    init = {
        "big": torch.randn(20, 250, generator=g) * 0.5,
        "vec": torch.randn(4100, generator=g) * 0.1,
        "small": torch.randn(3, 50, generator=g),
    }
    grads = []
    for s in range(STEPS):
        step = {}
        for name, p in init.items():
            # rows of very different scales, so the blocks' absmax values differ
            scale = torch.exp(torch.randn(p.shape[0] if p.dim() > 1 else 1, generator=g) * 1.5)
            gr = torch.randn(p.shape, generator=g) * (scale.view(-1, 1) if p.dim() > 1 else scale)
            gr = gr.half().float()
            if name == "big":
                gr.view(-1)[3 * 256:4 * 256] = 0.0
            step[name] = gr
        grads.append(step)
    return init, grads


def run(optim, init, grads, tensors, prefix, rounding="lut"):
    MODE["rounding"] = rounding
    args = TrainingArguments(output_dir="/tmp/optim-fixture-unused", optim=optim, learning_rate=LR,
                             adam_beta1=BETA1, adam_beta2=BETA2, adam_epsilon=EPS, weight_decay=WD,
                             report_to=[])
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args)
    params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
    groups = [{"params": [params["big"], params["small"]], "weight_decay": WD},
              {"params": [params["vec"]], "weight_decay": 0.0}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Paged optimizers are not supported on CPU"
        opt = cls(groups, **kwargs)
        for s in range(STEPS):
            for k, p in params.items():
                p.grad = grads[s][k].clone()
            opt.step()
            for k, p in params.items():
                last = s == STEPS - 1
                if tensors is not None and (prefix == "lut" or last or (prefix == "nearest" and s == 0)):
                    tensors[f"{prefix}.{s + 1}.{k}"] = p.detach().clone()
                if tensors is not None:
                    st = opt.state[p]
                    if prefix in ("lut", "nearest") or last:
                        for key in ("state1", "state2", "absmax1", "absmax2"):
                            if key in st:
                                tensors[f"{prefix}.{s + 1}.{k}.{key}"] = st[key].clone()
    state_bytes = {}
    for k, p in params.items():
        st = opt.state[p]
        state_bytes[k] = sum(st[key].numel() * st[key].element_size()
                             for key in ("state1", "state2", "absmax1", "absmax2") if key in st)
    desc = {"class": f"{cls.__module__}.{cls.__name__}",
            "kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}}
    return desc, state_bytes, {k: p.detach().clone() for k, p in params.items()}


def main():
    os.makedirs(OUT, exist_ok=True)
    install_rounding_switch()
    init, grads = make_params()
    tensors = {f"init.{k}": v.clone() for k, v in init.items()}
    for s, step in enumerate(grads):
        for k, v in step.items():
            tensors[f"grad.{s + 1}.{k}"] = v.half()
    mapping, state_bytes = {}, {}
    mapping["adamw_8bit"], state_bytes["adamw_8bit"], p8 = run("adamw_8bit", init, grads, tensors, "lut")
    run("adamw_8bit", init, grads, tensors, "nearest", rounding="nearest")
    mapping["paged_adamw_32bit"], state_bytes["paged_adamw_32bit"], p32 = run("paged_adamw_32bit", init, grads,
                                                                               tensors, "32bit")
    # aliases and paging: same optimizer, same update on CPU (bitsandbytes falls back to unpaged buffers on CPU)
    for name, ref in (("adamw_bnb_8bit", p8), ("paged_adamw_8bit", p8)):
        mapping[name], state_bytes[name], got = run(name, init, grads, None, None)
        assert all(torch.equal(got[k], ref[k]) for k in ref), name
    for name in ("adamw_torch", "adamw_torch_fused"):
        args = TrainingArguments(output_dir="/tmp/optim-fixture-unused", optim=name, adam_beta1=BETA1,
                                 adam_beta2=BETA2, adam_epsilon=EPS, learning_rate=LR, report_to=[])
        cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args)
        mapping[name] = {"class": f"{cls.__module__}.{cls.__name__}",
                         "kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}}
        state_bytes[name] = {k: 2 * v.numel() * 4 for k, v in init.items()}
    try:
        TrainingArguments(output_dir="/tmp/optim-fixture-unused", optim="adamw_9bit", report_to=[])
        raise AssertionError("accepted")
    except ValueError as e:
        unknown = str(e)
    meta = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "bitsandbytes": bnb.__version__},
        "steps": STEPS, "lr": LR, "betas": [BETA1, BETA2], "eps": EPS,
        "weight_decay": {"big": WD, "small": WD, "vec": 0.0},
        "shapes": {k: list(v.shape) for k, v in init.items()},
        "default_optim": str(TrainingArguments(output_dir="/tmp/optim-fixture-unused", report_to=[]).optim.value),
        "optimizer_names": [n.value for n in OptimizerNames],
        "unknown_optim_message": unknown,
        "transformers_mapping": mapping,
        "state_bytes": state_bytes,
        "dynamic_map_signed": F.create_dynamic_map(signed=True).tolist(),
        "dynamic_map_unsigned": F.create_dynamic_map(signed=False).tolist(),
        "rounding_differences": native_diffs,
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "bnb_adamw.safetensors"))
    with open(os.path.join(OUT, "bnb_adamw.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", OUT, native_diffs)


if __name__ == "__main__":
    main()
