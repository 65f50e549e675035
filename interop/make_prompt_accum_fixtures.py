#!/usr/bin/env python3
"""Gradient accumulation with prompt tuning under transformers' own Trainer (PEFT 0.21.2, transformers 5.23).

One optimizer step of ``transformers.Trainer`` (CPU, float32, gradient_accumulation_steps=2,
per_device_train_batch_size=2, no clipping, no weight decay, AdamW "adamw_torch") on a PEFT prompt-tuning model
(llama-gqa fixture, 4 virtual tokens, RANDOM init under torch.manual_seed(0)) over two fixed micro-batches whose
FIRST labels are not -100. transformers counts ``num_items_in_batch`` over ``labels[..., 1:]`` (``_loss_shifts_labels``)
while PEFT's forward prepends -100 labels for the virtual tokens, so the last virtual position predicts the first
label and it is scored too: each micro-batch's loss is sum(nll over every scored position) / num_items_in_batch.
The script checks that arithmetic independently (a plain forward with reduction="sum") before writing.

Writes ``fixtures/prompt-accum/``:
  batches.safetensors   {i}.input_ids / {i}.attention_mask / {i}.labels for micro-batch i (0, 1)
  weights.safetensors   init (the prompt embedding before training), grad (the accumulated gradient before the
                        optimizer step, from on_pre_optimizer_step), step1 (the embedding after the step)
  case.json             arguments, num_items_in_batch, scored positions, micro-batch losses, logged loss, grad_norm

Run: interop/.venv/bin/python interop/make_prompt_accum_fixtures.py [--out DIR]
"""
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from peft import PromptTuningConfig, get_peft_model  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = "llama-gqa"
NAME = "prompt_encoder.default.embedding.weight"
N_VIRTUAL = 4


def micro_batches():
    # right padding (0); first labels counted; the second batch has a -100 prompt; counts differ per batch
    return [
        {"input_ids": torch.tensor([[5, 9, 17, 2, 44, 6], [31, 8, 20, 21, 0, 0]]),
         "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]),
         "labels": torch.tensor([[5, 9, 17, 2, 44, 6], [31, 8, 20, 21, -100, -100]])},
        {"input_ids": torch.tensor([[12, 13, 14, 15], [60, 61, 62, 0]]),
         "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
         "labels": torch.tensor([[12, 13, 14, 15], [-100, -100, 62, -100]])},
    ]


class RowDataset(torch.utils.data.Dataset):
    def __init__(self, mbs):
        self.rows = [{k: mb[k][r] for k in mb} for mb in mbs for r in range(mb["input_ids"].shape[0])]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


class RecordingTrainer(Trainer):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.micro = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        self.micro.append({"num_items_in_batch": float(num_items_in_batch), "loss": float(loss.detach())})
        return loss


class Grabs(TrainerCallback):
    def __init__(self):
        self.grad = None
        self.after = None

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        self.grad = dict(model.named_parameters())[NAME].grad.detach().clone()

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.after = dict(model.named_parameters())[NAME].detach().clone()


def model():
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(os.path.join(HERE, "fixtures", "models", MODEL),
                                                attn_implementation="eager", dtype=torch.float32)
    return get_peft_model(base, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=N_VIRTUAL))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "prompt-accum"))
    out = ap.parse_args().out
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    mbs = micro_batches()
    pm = model()
    init = dict(pm.named_parameters())[NAME].detach().clone()

    # the arithmetic, independently: sum of nll over every position PEFT scores / count of labels[..., 1:]
    items = sum(int((mb["labels"][:, 1:] != -100).sum()) for mb in mbs)
    scored = []
    want = 0.0
    with torch.no_grad():
        for mb in mbs:
            # PEFT's logits cover the virtual positions too: [B, n + T, V]
            full = pm(input_ids=mb["input_ids"], attention_mask=mb["attention_mask"]).logits
            assert full.shape[1] == N_VIRTUAL + mb["input_ids"].shape[1]
            lab = torch.cat([torch.full((mb["labels"].shape[0], N_VIRTUAL), -100), mb["labels"]], 1)
            s = torch.nn.functional.cross_entropy(full[:, :-1].reshape(-1, full.shape[-1]), lab[:, 1:].reshape(-1),
                                                  ignore_index=-100, reduction="sum")
            want += float(s) / items
            scored.append(int((lab[:, 1:] != -100).sum()))
    assert scored != [int((mb["labels"][:, 1:] != -100).sum()) for mb in mbs], "first labels must be scored"

    pm = model()
    grabs = Grabs()
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, use_cpu=True, report_to="none", save_strategy="no",
                                 logging_strategy="steps", logging_steps=1, disable_tqdm=True, seed=42,
                                 dataloader_num_workers=0, train_sampling_strategy="sequential",
                                 optim="adamw_torch", per_device_train_batch_size=2, gradient_accumulation_steps=2,
                                 max_steps=1, learning_rate=1e-2, weight_decay=0.0, max_grad_norm=0.0,
                                 lr_scheduler_type="constant", warmup_steps=0)
        trainer = RecordingTrainer(model=pm, args=args, train_dataset=RowDataset(mbs), callbacks=[grabs])
        assert trainer.model_accepts_loss_kwargs and trainer._loss_shifts_labels
        trainer.train()
    log = [h for h in trainer.state.log_history if "loss" in h and "train_runtime" not in h][0]
    assert all(m["num_items_in_batch"] == items for m in trainer.micro), trainer.micro
    got = sum(m["loss"] for m in trainer.micro)
    assert abs(got - want) < 1e-5 * abs(want), (got, want)

    os.makedirs(out, exist_ok=True)
    save_file({f"{i}.{k}": mb[k].contiguous() for i, mb in enumerate(mbs) for k in mb},
              os.path.join(out, "batches.safetensors"))
    save_file({"init": init.contiguous(), "grad": grabs.grad.contiguous(), "step1": grabs.after.contiguous()},
              os.path.join(out, "weights.safetensors"))
    case = {
        "model": MODEL, "num_virtual_tokens": N_VIRTUAL, "parameter": NAME,
        "training_arguments": {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 2, "max_steps": 1,
                               "learning_rate": 1e-2, "weight_decay": 0.0, "max_grad_norm": 0.0,
                               "lr_scheduler_type": "constant", "optim": "adamw_torch",
                               "adam_beta1": args.adam_beta1, "adam_beta2": args.adam_beta2,
                               "adam_epsilon": args.adam_epsilon},
        "num_items_in_batch": items,
        "scored_positions": scored,
        "micro_batch_losses": [m["loss"] for m in trainer.micro],
        "loss": got,
        "logged_loss": log["loss"],
        "grad_norm": float(grabs.grad.norm()),
        "arithmetic_loss": want,
        "versions": {"peft": peft.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
    }
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")
    print(json.dumps({k: case[k] for k in ("num_items_in_batch", "scored_positions", "loss", "grad_norm")}))


if __name__ == "__main__":
    main()
