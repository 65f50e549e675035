"""Builds a tiny byte-level BPE tokenizer and records reference outputs for peft4j's data package.

Writes interop/fixtures/tokenizer/:
  tokenizer.json, tokenizer_config.json, special_tokens_map.json  -- the tokenizer (vocab 300, trained here)
  reference.json  -- encodings, decodings and chat-template renderings computed with transformers

No downloads: the training text is written by this script. Run with the interop venv:
  interop/.venv/bin/python interop/tokenizer_fixtures.py [--out DIR]
"""
import argparse
import json
import os

import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

BOS, EOS, EOT, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|pad|>"
HEADER_START, HEADER_END = "<|start_header_id|>", "<|end_header_id|>"
SPECIALS = [BOS, EOS, EOT, PAD, HEADER_START, HEADER_END]

# A Llama-3-style template, written for these fixtures.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('Unknown role: ' + message['role']) }}"
    "{% endif %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# A ChatML-style template exercising more Jinja: a default system turn, loop variables, filters, dot access,
# trim_blocks/lstrip_blocks whitespace control.
CHATML_TEMPLATE = """{% if messages[0]['role'] != 'system' %}
<|im_start|>system
You are a helpful assistant.<|im_end|>
{% endif %}
{% for message in messages %}
    {% set content = message.content | trim %}
<|im_start|>{{ message.role }}
{{ content }}<|im_end|>{% if not loop.last or add_generation_prompt %}\n{% endif %}
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}"""

TRAINING_TEXT = """Below is an instruction that describes a task. Write a response that appropriately completes the request.
### Instruction:
Give three tips for staying healthy.
### Input:
### Response:
Eat a balanced diet, exercise regularly and sleep well.
The quick brown fox jumps over the lazy dog. Hello, world! How are you today?
Parameter-efficient fine-tuning adapts large language models with few trainable weights.
user assistant system The capital of France is Paris. What is two plus two? Four.
""" * 4

STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading and trailing spaces  ",
    "line one\nline two\ttabbed",
    "你好，世界",
    "emoji 😀🚀 and ü é ß",
    "",
    "### Instruction:\nGive three tips for staying healthy.",
    "text with <|eot_id|> special inside",
]

CHATS = [
    [
        {"role": "user", "content": "What is two plus two?"},
        {"role": "assistant", "content": "Four."},
    ],
    [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": "Capital of France? 你好"},
        {"role": "assistant", "content": "Paris 🚀"},
    ],
]


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAINING_TEXT.splitlines(), trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return tok


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "fixtures", "tokenizer"))
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)

    raw = build_tokenizer()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=BOS, eos_token=EOT, pad_token=PAD, chat_template=CHAT_TEMPLATE
    )
    fast.save_pretrained(out)
    # transformers 5 saves the template as chat_template.jinja; many published checkpoints keep it in
    # tokenizer_config.json, which is the form these fixtures exercise (peft4j reads both).
    cfg_path = os.path.join(out, "tokenizer_config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.pop("model_max_length", None)
    cfg["chat_template"] = CHAT_TEMPLATE
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)
        f.write("\n")
    jinja = os.path.join(out, "chat_template.jinja")
    if os.path.exists(jinja):
        os.remove(jinja)
    fast = transformers.AutoTokenizer.from_pretrained(out)  # reload: check what was saved

    ref = {
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "vocab_size": len(fast),
        "bos_token_id": fast.bos_token_id,
        "eos_token_id": fast.eos_token_id,
        "pad_token_id": fast.pad_token_id,
        "encodings": [],
        "chats": [],
    }
    for s in STRINGS:
        plain = fast.encode(s, add_special_tokens=False)
        ref["encodings"].append({
            "text": s,
            "ids": plain,
            "ids_with_special": fast.encode(s, add_special_tokens=True),
            "decoded": fast.decode(plain),
        })
    for chat in CHATS:
        rendered = fast.apply_chat_template(chat, tokenize=False)
        prompt = fast.apply_chat_template(chat[:-1], tokenize=False, add_generation_prompt=True)
        ref["chats"].append({
            "messages": chat,
            "rendered": rendered,
            "rendered_prefix_with_generation_prompt": prompt,
            # the template already contains the bos token: no special tokens added on encoding
            "ids": fast.encode(rendered, add_special_tokens=False),
        })
    ref["chatml"] = {"template": CHATML_TEMPLATE, "renderings": []}
    for chat in CHATS:
        for gen in (False, True):
            msgs = chat if not gen else chat[:-1]
            ref["chatml"]["renderings"].append({
                "messages": msgs,
                "add_generation_prompt": gen,
                "rendered": fast.apply_chat_template(
                    msgs, chat_template=CHATML_TEMPLATE, tokenize=False, add_generation_prompt=gen),
            })
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1, separators=(",", ": "))
        f.write("\n")
    print("wrote", out, "vocab", len(fast))


if __name__ == "__main__":
    main()
