"""Reference AdamW updates, gradient clipping and learning-rate schedules from torch and transformers.

Writes interop/fixtures/reference/optimizer.json: for each scheduler type, the learning rate of every step
(transformers.get_scheduler), and for one AdamW run (with linear warmup schedule and clip_grad_norm_) the
parameters after every step. Run with interop/.venv/bin/python interop/make_optimizer_fixtures.py.
"""
import json
import os

import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(0)
    out = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__}}
    total, warmup, base_lr = 20, 4, 1e-2
    schedules = {}
    for kind in ["linear", "cosine", "constant", "constant_with_warmup"]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=base_lr)
        sched = transformers.get_scheduler(kind, opt, num_warmup_steps=warmup, num_training_steps=total)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        schedules[kind] = lrs
    out["schedules"] = {"total": total, "warmup": warmup, "base_lr": base_lr, "lrs": schedules}

    # AdamW on two parameters (one decayed, one not), grads fixed per step, clip to max norm 1.0
    w = torch.nn.Parameter(torch.randn(6))
    b = torch.nn.Parameter(torch.randn(3))
    init = {"w": w.detach().tolist(), "b": b.detach().tolist()}
    opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                            lr=5e-2, betas=(0.9, 0.999), eps=1e-8)
    sched = transformers.get_scheduler("linear", opt, num_warmup_steps=2, num_training_steps=8)
    grads, params, norms = [], [], []
    for _ in range(8):
        gw = torch.randn(6) * 2
        gb = torch.randn(3) * 2
        grads.append({"w": gw.tolist(), "b": gb.tolist()})
        w.grad = gw.clone()
        b.grad = gb.clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_([w, b], 1.0)))
        opt.step()
        sched.step()
        params.append({"w": w.detach().tolist(), "b": b.detach().tolist()})
    out["adamw"] = {"lr": 5e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": {"w": 0.1, "b": 0.0},
                    "warmup": 2, "total": 8, "max_grad_norm": 1.0, "init": init, "grads": grads,
                    "norms": norms, "params": params}
    path = os.path.join(HERE, "fixtures", "reference", "optimizer.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
