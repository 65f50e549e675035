"""Reference runs of transformers' own Trainer, step by step, for peft4j's Trainer.

Runs ``transformers.Trainer`` (CPU, float32, deterministic, no dropout, full fine-tuning, AdamW "adamw_torch")
on the tiny Qwen2 fixture model (``fixtures/models/qwen2``: qkv biases and RMSNorm weights, so the "no weight decay
on biases and norm weights" grouping matters; tied embeddings) over fixed, pre-collated micro-batches fed in order
(``train_sampling_strategy="sequential"``), and records after EVERY optimizer step the weights of every trainable
parameter, the learning rate, the logged loss and the pre-clip gradient norm.

Two cases, written to ``fixtures/trainer/<case>/`` as ``batches.safetensors``, ``weights.safetensors`` and
``case.json`` (see interop/README.md, "Trainer reference fixtures"):

* ``accum-clip``: gradient_accumulation_steps=3, per_device_train_batch_size=2, micro-batches with different numbers
  of counted label tokens (right padding and -100 prompt labels), so transformers' ``num_items_in_batch``
  normalisation matters; max_grad_norm small enough that every step is clipped; weight decay; warmup + cosine.
* ``equal-counts``: every micro-batch has the same number of counted tokens, no clipping and a large adam_epsilon,
  so the scale of the accumulated gradient (mean, not sum, of the micro-batch gradients) shows in the weights.

Run: interop/.venv/bin/python interop/make_trainer_fixtures.py [--out DIR]
"""
import argparse
import json
import os
import platform
import random
import shutil
import tempfile

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import safetensors
import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = "qwen2"
PAD = 0


class RowDataset(torch.utils.data.Dataset):
    """One item per row; consecutive pairs of rows form one micro-batch (rows of a pair share one length)."""

    def __init__(self, micro_batches):
        self.rows = []
        for mb in micro_batches:
            for r in range(mb["input_ids"].shape[0]):
                self.rows.append({k: mb[k][r] for k in ("input_ids", "attention_mask", "labels")})

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def micro_batch(rng, vocab, seq, real_lens, prompt_lens):
    """[2, seq], right padded with PAD; labels = input_ids with -100 at pads and at the first prompt_len tokens."""
    ids, mask, labels = [], [], []
    for n, p in zip(real_lens, prompt_lens):
        toks = [rng.randrange(3, vocab) for _ in range(n)]
        ids.append(toks + [PAD] * (seq - n))
        mask.append([1] * n + [0] * (seq - n))
        labels.append([-100] * p + toks[p:] + [-100] * (seq - n))
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def counted(mb):
    """Label tokens the causal-LM loss counts: labels[..., 1:] != -100 (transformers' num_items_in_batch rule)."""
    return int((mb["labels"][:, 1:] != -100).sum())


class RecordingTrainer(Trainer):
    """Records what Trainer passes to the loss: num_items_in_batch and each micro-batch's returned loss."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.micro = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        n = None if num_items_in_batch is None else float(num_items_in_batch)
        self.micro.append({"num_items_in_batch": n, "loss": float(loss.detach())})
        return loss


class Snapshots(TrainerCallback):
    """Weights of every trainable parameter after every optimizer step (on_step_end runs after optimizer.step)."""

    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.steps.append({n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad})


def run_case(name, out_root, micro_batches, targs, keep_steps):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(os.path.join(HERE, "fixtures", "models", MODEL),
                                                 attn_implementation="eager", dtype=torch.float32)
    for m in model.modules():
        assert not isinstance(m, torch.nn.Dropout) or m.p == 0.0, m
    assert model.config.attention_dropout == 0.0
    init = {n: p.detach().clone() for n, p in model.named_parameters()}
    snaps = Snapshots()
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, use_cpu=True, report_to="none", save_strategy="no",
                                 logging_strategy="steps", logging_steps=1, disable_tqdm=True, seed=42,
                                 dataloader_num_workers=0, train_sampling_strategy="sequential",
                                 optim="adamw_torch", per_device_train_batch_size=2, **targs)
        trainer = RecordingTrainer(model=model, args=args, train_dataset=RowDataset(micro_batches),
                                   callbacks=[snaps])
        assert trainer.model_accepts_loss_kwargs, "Qwen2ForCausalLM must take num_items_in_batch"
        assert trainer._loss_shifts_labels
        decay = set(trainer.get_decay_parameter_names(model))
        trainer.train()
    accum = targs["gradient_accumulation_steps"]
    steps = targs["max_steps"]
    assert len(snaps.steps) == steps and len(trainer.micro) == steps * accum
    logs = [h for h in trainer.state.log_history if "loss" in h and "train_runtime" not in h]
    assert [h["step"] for h in logs] == list(range(1, steps + 1)), logs
    counts = [counted(mb) for mb in micro_batches]
    per_step = []
    for s in range(steps):
        c = counts[s * accum:(s + 1) * accum]
        micro = trainer.micro[s * accum:(s + 1) * accum]
        assert all(m["num_items_in_batch"] == sum(c) for m in micro), (micro, c)
        per_step.append({
            "step": s + 1,
            "learning_rate": logs[s]["learning_rate"],
            "loss": logs[s]["loss"],
            "grad_norm": logs[s]["grad_norm"],
            "counted_tokens": c,
            "num_items_in_batch": sum(c),
            "micro_batch_losses": [m["loss"] for m in micro],
            "clipped": targs["max_grad_norm"] > 0 and logs[s]["grad_norm"] > targs["max_grad_norm"],
        })
    if targs["max_grad_norm"] > 0:
        assert all(p["clipped"] for p in per_step), "clipping must happen at every step"

    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    bt = {}
    for i, mb in enumerate(micro_batches):
        for k in ("input_ids", "attention_mask", "labels"):
            bt[f"{i}.{k}"] = mb[k].contiguous()
    save_file(bt, os.path.join(d, "batches.safetensors"), metadata={"case": name})
    wt = {}
    for s in keep_steps:
        for n, t in snaps.steps[s - 1].items():
            wt[f"step{s}.{n}"] = t.contiguous()
    save_file(wt, os.path.join(d, "weights.safetensors"), metadata={"case": name})
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    moved = {s: max(float((snaps.steps[s - 1][n] - init[n]).abs().max()) for n in trainable) for s in keep_steps}
    case = {
        "case": name,
        "model": MODEL,
        "model_class": type(model).__name__,
        "training_arguments": {"per_device_train_batch_size": 2, "optim": "adamw_torch",
                               "adam_beta1": args.adam_beta1, "adam_beta2": args.adam_beta2,
                               "adam_epsilon": args.adam_epsilon, "seed": 42, "logging_steps": 1,
                               "train_sampling_strategy": "sequential", **targs},
        "num_micro_batches": len(micro_batches),
        "micro_batch_counted_tokens": counts,
        "trainable_parameters": trainable,
        "no_decay_parameters": [n for n in trainable if n not in decay],
        "weight_steps": keep_steps,
        "max_abs_change_from_initial": {str(s): v for s, v in moved.items()},
        "steps": per_step,
        "train_loss": trainer.state.log_history[-1].get("train_loss"),
        "notes": ("weights.safetensors holds step{k}.<name> = every trainable parameter after optimizer step k "
                  "(transformers' named_parameters: the tied lm_head is model.embed_tokens.weight). "
                  "batches.safetensors holds micro-batch i as {i}.input_ids / {i}.attention_mask / {i}.labels, "
                  "in the order Trainer consumed them; optimizer step s uses micro-batches "
                  "s*accum .. s*accum+accum-1 (0-based). Per micro-batch transformers computes "
                  "sum(nll) / num_items_in_batch, num_items_in_batch = counted tokens of the whole optimizer step "
                  "(labels[..., 1:] != -100), and does not divide by gradient_accumulation_steps; the logged loss "
                  "of a step is the sum of its micro-batch losses, i.e. the token-weighted mean. grad_norm is the "
                  "norm before clipping. learning_rate is the rate the step used."),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "safetensors": safetensors.__version__},
    }
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")
    print(name, "losses", [p["loss"] for p in per_step], "grad_norms", [p["grad_norm"] for p in per_step],
          "lrs", [p["learning_rate"] for p in per_step], "counts", counts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "trainer"))
    out = ap.parse_args().out
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    vocab = json.load(open(os.path.join(HERE, "fixtures", "models", MODEL, "config.json")))["vocab_size"]
    if os.path.isdir(out):
        shutil.rmtree(out)

    # accum-clip: 5 steps x 3 micro-batches of [2, T], T and the counted tokens differing per micro-batch
    rng = random.Random(1234)
    layouts = [  # (seq, real lengths, prompt lengths)
        (9, (9, 4), (1, 1)), (6, (6, 6), (4, 5)), (11, (11, 7), (2, 3)),
        (8, (8, 3), (6, 2)), (10, (10, 10), (1, 1)), (7, (5, 7), (3, 6)),
        (12, (12, 5), (8, 1)), (8, (8, 8), (2, 2)), (9, (4, 9), (3, 7)),
        (10, (6, 10), (1, 8)), (7, (7, 7), (1, 1)), (11, (11, 3), (9, 1)),
        (8, (8, 6), (1, 4)), (12, (12, 12), (10, 2)), (6, (6, 2), (1, 1)),
    ]
    mbs = [micro_batch(rng, vocab, s, r, p) for s, r, p in layouts]
    run_case("accum-clip", out, mbs, {
        "gradient_accumulation_steps": 3, "max_steps": 5, "learning_rate": 1e-2, "weight_decay": 0.1,
        "lr_scheduler_type": "cosine", "warmup_steps": 1, "max_grad_norm": 0.05,
    }, keep_steps=[1, 2, 3, 4, 5])

    # equal-counts: 2 steps x 3 micro-batches, 12 counted tokens in each, no clipping, large epsilon
    rng = random.Random(99)
    layouts = [
        (8, (8, 8), (2, 2)), (9, (9, 5), (1, 1)), (10, (10, 4), (1, 1)),
        (7, (7, 7), (1, 1)), (8, (6, 8), (1, 1)), (12, (12, 3), (2, 1)),
    ]
    mbs = [micro_batch(rng, vocab, s, r, p) for s, r, p in layouts]
    assert {counted(mb) for mb in mbs} == {12}, [counted(mb) for mb in mbs]
    run_case("equal-counts", out, mbs, {
        "gradient_accumulation_steps": 3, "max_steps": 2, "learning_rate": 1e-2, "weight_decay": 0.0,
        "lr_scheduler_type": "constant", "warmup_steps": 0, "max_grad_norm": 0.0, "adam_epsilon": 1e-2,
    }, keep_steps=[2])


if __name__ == "__main__":
    main()
