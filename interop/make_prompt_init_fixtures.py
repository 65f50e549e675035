#!/usr/bin/env python3
"""tokenizer_kwargs of PEFT's TEXT init (PEFT 0.21.2, transformers 5.23) for peft4j's PromptInitTest.

PEFT's PromptEmbedding loads ``AutoTokenizer.from_pretrained(tokenizer_name_or_path, **tokenizer_kwargs)`` (after
popping ``trust_remote_code``) and initialises the prompt from ``tokenizer(init_text)["input_ids"]``. Whether a kwarg
changes the ids depends on the tokenizer class: the fixture tokenizer (``fixtures/tokenizer``, class
TokenizersBackend) ignores ``add_prefix_space``; the same files with ``tokenizer_class: GPT2Tokenizer``
(``fixtures/prompt-init/gpt2-class/``, written here) apply it to the ByteLevel pre-tokenizer.

Writes ``fixtures/prompt-init/cases.json``: per case the tokenizer folder (relative to fixtures/), the kwargs, the
init text, the tokenizer's ``input_ids`` (the exact call PEFT makes) and ``prompt_ids``, the word-embedding rows
PEFT copies for 6 virtual tokens (the ids repeated and cut, as PEFT's PromptEmbedding). (The fixture models' vocabularies
are too small for these ids, so PEFT's model is not run here; pt-text-gpt2 in make_ptune_fixtures.py covers that.)

Run: interop/.venv/bin/python interop/make_prompt_init_fixtures.py
"""
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import shutil  # noqa: E402

from transformers import AutoTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
OUT = os.path.join(FIX, "prompt-init")
N = 6


def main():
    g2 = os.path.join(OUT, "gpt2-class")
    os.makedirs(g2, exist_ok=True)
    shutil.copy(os.path.join(FIX, "tokenizer", "tokenizer.json"), g2)
    with open(os.path.join(FIX, "tokenizer", "tokenizer_config.json")) as f:
        tc = json.load(f)
    tc["tokenizer_class"] = "GPT2Tokenizer"
    with open(os.path.join(g2, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)
        f.write("\n")
    cases = []
    for tok in ("tokenizer", "prompt-init/gpt2-class"):
        for kw in ({}, {"add_prefix_space": True}, {"add_prefix_space": False}, {"use_fast": False},
                   {"trust_remote_code": True}):
            for text in ("abc", "hello world"):
                path = os.path.join(FIX, tok)
                args = dict(kw)
                args.pop("trust_remote_code", None)
                ids = AutoTokenizer.from_pretrained(path, **args)(text)["input_ids"]
                cases.append({"tokenizer": tok, "kwargs": kw, "text": text, "input_ids": ids,
                              "num_virtual_tokens": N, "prompt_ids": (ids * N)[:N]})
    import peft
    import transformers
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"versions": {"peft": peft.__version__, "transformers": transformers.__version__},
                   "model": "gpt2", "cases": cases}, f, indent=1)
        f.write("\n")
    for c in cases:
        print(c["tokenizer"], c["kwargs"], c["text"], c["input_ids"])


if __name__ == "__main__":
    main()
