"""Prints transformers' greedy answers of the embedded default model (examples/default/model) to the prompts that
examples' DefaultModelTest checks: AutoModelForCausalLM.from_pretrained, apply_chat_template(add_generation_prompt=True),
generate(max_new_tokens=40, do_sample=False), decoded with skip_special_tokens. Rerun after pretrain.sh and copy the
answers into DefaultModelTest.

No downloads. Run with the interop venv from the repository root:
  interop/.venv/bin/python interop/default_model_answers.py
"""
import json
import os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "examples/default/model")


def main():
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL).eval()
    for q in ["Who are you?", "你是谁？"]:
        ids = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=40, do_sample=False)
        print(json.dumps({"prompt": q, "answer": tok.decode(out[0, ids["input_ids"].shape[1]:],
                                                            skip_special_tokens=True)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
