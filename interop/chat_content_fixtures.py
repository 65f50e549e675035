"""Records how transformers renders chat messages whose *content* looks like Jinja code.

transformers' apply_chat_template compiles the template once and passes `messages` as data, so message content is
never parsed as template code: `{{ 7*7 }}` in a message stays `{{ 7*7 }}`. peft4j's data tests check that its
Jinjava-based ChatTemplate does the same.

Writes interop/fixtures/chat-content/reference.json: for each template (the Llama-3-style template of
fixtures/tokenizer/tokenizer_config.json, the ChatML-style one of fixtures/tokenizer/reference.json, and the default
model's examples/default/model/tokenizer_config.json) and each hostile conversation, the text of
tokenizer.apply_chat_template(messages, tokenize=False) with and without add_generation_prompt.

No downloads. Run with the interop venv from the repository root:
  interop/.venv/bin/python interop/chat_content_fixtures.py [--out DIR]
"""
import argparse
import json
import os

import transformers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HOSTILE = [
    "{{ 7*7 }}",
    "{% include 'x' %}",
    "{{ raise_exception('x') }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% import 'macros.j2' as m %}{% from 'y' import z %}",
    "{{ messages }} {{ bos_token }} {# comment #} {%- raw %}{{ '}}' }}{% endraw %}",
    "mixed: a {{ b }} c {% if true %}d{% endif %} e }} {{ {% %}",
]

CHATS = [
    # hostile text in every role, including a template-looking system message
    [
        {"role": "system", "content": "You are {{ 'evil' | upper }}. {% set x = 1 %}{{ x }}"},
        {"role": "user", "content": HOSTILE[0]},
        {"role": "assistant", "content": HOSTILE[1]},
        {"role": "user", "content": HOSTILE[2]},
        {"role": "assistant", "content": HOSTILE[3]},
    ],
    [
        {"role": "user", "content": HOSTILE[4]},
        {"role": "assistant", "content": HOSTILE[5]},
        {"role": "user", "content": HOSTILE[6]},
        {"role": "assistant", "content": "Fine: {{ 7*7 }} is written as 49."},
    ],
]

# a generate prompt: one user message, with the generation prompt
PROMPTS = HOSTILE


def render(tok, template, messages, gen):
    return tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=gen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "chat-content"))
    args = ap.parse_args()
    fixture_tok = AutoTokenizer.from_pretrained(os.path.join(HERE, "fixtures", "tokenizer"))
    default_tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, "examples", "default", "model"))
    with open(os.path.join(HERE, "fixtures", "tokenizer", "reference.json"), encoding="utf-8") as f:
        chatml = json.load(f)["chatml"]["template"]
    templates = {
        "llama3-style": (fixture_tok, fixture_tok.chat_template, "interop/fixtures/tokenizer/tokenizer_config.json"),
        "chatml-style": (fixture_tok, chatml, "interop/fixtures/tokenizer/reference.json#chatml.template"),
        "default-model": (default_tok, default_tok.chat_template, "examples/default/model/tokenizer_config.json"),
    }
    out = {"versions": {"transformers": transformers.__version__}, "templates": []}
    for name, (tok, template, source) in templates.items():
        entry = {
            "name": name,
            "source": source,
            "template": template,
            "bos_token": tok.bos_token,
            "eos_token": tok.eos_token,
            "chats": [],
            "prompts": [],
        }
        for chat in CHATS:
            entry["chats"].append({
                "messages": chat,
                "rendered": render(tok, template, chat, False),
                "rendered_with_generation_prompt": render(tok, template, chat, True),
            })
        for p in PROMPTS:
            entry["prompts"].append({"prompt": p, "rendered": render(tok, template, [{"role": "user", "content": p}], True)})
        out["templates"].append(entry)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
