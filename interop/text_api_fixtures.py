"""Fixtures for the text-in / text-out API (interop/fixtures/text-api/):

- reference.json: for the Llama-3-style fixture tokenizer (interop/fixtures/tokenizer) and the embedded default
  model's tokenizer (examples/default/model): transformers' apply_chat_template(chat, add_generation_prompt=True)
  ids, and decode(ids, skip_special_tokens=False/True) of those ids plus a few generated-looking ids.
- gen-*/generation_config.json and their transformers GenerationConfig.from_pretrained values
  (max_new_tokens, do_sample, temperature, top_k, top_p, eos_token_id, pad_token_id) in reference.json.

Rerun: /work/main/interop/.venv/bin/python interop/text_api_fixtures.py  (from the repository root)
"""
import json
import os

from transformers import AutoTokenizer, GenerationConfig

OUT = "interop/fixtures/text-api"
os.makedirs(OUT, exist_ok=True)
ref = {"tokenizers": {}, "generation_configs": {}}
chat = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is a stock? Say it in 5 words."},
]
for name, path in [("llama3-fixture", "interop/fixtures/tokenizer"), ("default", "examples/default/model")]:
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=False)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    ids = list(ids)
    extra = tok.encode("A share of a company.", add_special_tokens=False)
    specials = [i for i in tok.all_special_ids]
    generated = extra + specials[:2] + extra[:2]
    ref["tokenizers"][name] = {
        "path": path,
        "chat": chat,
        "chat_ids": ids,
        "decode": [
            {"ids": x, "text": tok.decode(x, skip_special_tokens=False),
             "skip_special_tokens": tok.decode(x, skip_special_tokens=True)}
            for x in (ids, generated)
        ],
    }

configs = {
    "gen-list-eos": {"bos_token_id": 1, "eos_token_id": [2, 7, 9], "pad_token_id": 0, "do_sample": True,
                     "temperature": 0.6, "top_p": 0.9, "top_k": 20, "max_new_tokens": 64,
                     "transformers_version": "4.45.0", "some_future_field": {"x": 1}},
    "gen-int-eos": {"eos_token_id": 5, "do_sample": False, "max_new_tokens": 7, "repetition_penalty": 1.0},
    "gen-empty": {},
}
for name, cfg in configs.items():
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    g = GenerationConfig.from_pretrained(d)
    eos = g.eos_token_id
    ref["generation_configs"][name] = {
        "max_new_tokens": g.max_new_tokens, "do_sample": g.do_sample, "temperature": g.temperature,
        "top_k": g.top_k, "top_p": g.top_p,
        "eos_token_id": None if eos is None else (eos if isinstance(eos, list) else [eos]),
        "pad_token_id": g.pad_token_id,
    }
with open(os.path.join(OUT, "reference.json"), "w") as f:
    json.dump(ref, f, indent=1, ensure_ascii=False)
print(json.dumps(ref, ensure_ascii=False)[:3000])
