"""Reference gradients of one full fine-tuning step, from torch autograd, for the Java autodiff tests.

Reads the committed tiny models (interop/fixtures/models/<name>), computes the causal-LM loss (transformers'
shift-by-one cross entropy, ignore_index -100, mean over counted tokens) for fixed input ids and labels, and
writes interop/fixtures/reference/<name>-grads.safetensors with:
  input_ids, labels: int64 [2, 6]
  loss: float32 [] (rank 0)
  grad.<parameter name>: float32, one per entry of model.named_parameters() (tied weights once)
Run with interop/.venv/bin/python interop/make_grad_fixtures.py (after interop/regenerate.sh made the venv).
"""
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
INPUT_IDS = [[5, 17, 3, 99, 42, 7], [1, 64, 8, 11, 23, 2]]
LABELS = [[-100, -100, 3, 99, 42, 7], [-100, -100, 8, 11, 23, 2]]


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    names = sys.argv[1:] or ["llama-mha", "llama-gqa", "gpt2"]
    for name in names:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            os.path.join(FIX, "models", name), attn_implementation="eager", dtype=torch.float32)
        model.train()
        # no dropout: the Java inference-mode graph has none either
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        ids = torch.tensor(INPUT_IDS, dtype=torch.long)
        labels = torch.tensor(LABELS, dtype=torch.long)
        out = model(input_ids=ids, labels=labels)
        out.loss.backward()
        tensors = {"input_ids": ids, "labels": labels, "loss": out.loss.detach().reshape(())}
        for pname, p in model.named_parameters():
            tensors["grad." + pname] = p.grad.detach().contiguous()
        path = os.path.join(FIX, "reference", name + "-grads.safetensors")
        save_file(tensors, path, metadata={"format": "pt", "torch": torch.__version__,
                                           "transformers": transformers.__version__})
        print(name, "loss", float(out.loss.detach()), "->", path)


if __name__ == "__main__":
    main()
