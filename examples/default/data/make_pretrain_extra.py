"""Writes pretrain-extra.jsonl, the second part of the default model's pretraining corpus, from the project's own
pretrain.jsonl and train.jsonl (deterministic; no randomness, no downloads):

1. Finance facts. Every glossary definition of train.jsonl (25 terms, English and Chinese) stated as a fact, four
   times, each after a prompt that asks for a fact in general ("Tell me a fact about money."), never a question
   about the term. A base model knows such facts from its pretraining text; it still answers questions about the
   terms vaguely (pretrain.jsonl), and the LoRA adapter teaches it to answer them.
2. Question forms. Every everyday "What is X?" / "什么是X？" definition of pretrain.jsonl (finance terms excluded)
   asked in three more phrasings from a fixed pool, with the same answer, so that "a new phrasing of a question about
   X" is something the base model already handles.

3. More fine-tuning phrasings. train.jsonl's first 200 records are hand-written; the script rewrites the rest:
   every glossary term asked in two more phrasings from the same pools as in 2., never a held-out prompt
   (heldout.jsonl) and never a phrasing the term already has.

Run from the repository root: python3 examples/default/data/make_pretrain_extra.py
"""
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))

FACT_PROMPTS_EN = ["Tell me a fact about money.", "Share something you know about finance.",
                   "Say one thing about money.", "Give me a finance fact.", "Teach me something about money.",
                   "What is one thing you know about finance?"]
FACT_PROMPTS_ZH = ["给我讲一个关于钱的知识。", "分享一个金融常识。", "说一个你知道的金融知识。", "讲一个理财小知识。",
                   "教我一点关于钱的知识。", "说说你知道的一个金融常识。"]
FORMS_EN = ["Define {x}.", "Explain the term {x}.", "In simple words, what is {ax}?", "Could you explain what {ax} is?",
            "Tell me the meaning of {x}.", "What does the word {x} mean?", "Can you tell me what {ax} is?",
            "Describe {ax} in one sentence.", "I would like to know what {ax} is.", "Briefly, what is {ax}?"]
FORMS_ZH = ["{x}是什么意思？", "请解释一下{x}。", "通俗地讲，什么是{x}？", "能给我讲讲{x}吗？", "请说明一下{x}的含义。",
            "{x}指的是什么？", "你知道{x}是什么吗？", "简单说说{x}是什么。", "我想了解一下{x}。"]
HAND_WRITTEN_TRAIN = 200
VAGUE = ("That ", "I am not sure", "这属于", "这是一个金融术语", "这个金融")


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def chat(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def main():
    train = load("train.jsonl")
    pretrain = load("pretrain.jsonl")
    out = []
    definitions = []
    for r in train:
        a = r["messages"][1]["content"]
        if "Abacus" not in a and a not in definitions:
            definitions.append(a)
    for i, d in enumerate(definitions):
        pool = FACT_PROMPTS_ZH if re.search(r"[\u4e00-\u9fff]", d) else FACT_PROMPTS_EN
        for k in range(4):
            out.append(chat(pool[(i + k) % len(pool)], d))
    n = 0
    for r in pretrain:
        q, a = r["messages"][0]["content"], r["messages"][1]["content"]
        if a.startswith(VAGUE) or "capital" in q or "breakfast" in q:
            continue
        m = re.match(r"^What is (an? )?([A-Za-z][A-Za-z -]*)\?$", q)
        if m:
            x = m.group(2)
            ax = (m.group(1) or "") + x
            forms = [f.format(x=x, ax=ax) for f in FORMS_EN]
        else:
            m = re.match(r"^什么是(.+)？$", q)
            if not m:
                continue
            forms = [f.format(x=m.group(1)) for f in FORMS_ZH]
        for k in range(3):
            out.append(chat(forms[(n + k) % len(forms)], a))
        n += 1
    hand = train[:HAND_WRITTEN_TRAIN]
    held = {json.loads(line)["prompt"] for line in open(os.path.join(HERE, "heldout.jsonl"), encoding="utf-8")}
    asked = {r["messages"][0]["content"] for r in hand} | {r["messages"][0]["content"] for r in pretrain}
    terms = {}
    for r in hand:
        q, a = r["messages"][0]["content"], r["messages"][1]["content"]
        if "Abacus" in a:
            continue
        m = re.match(r"^What is (an? )?([A-Za-z][A-Za-z -]*)\?$", q)
        if m:
            terms[a] = [f.format(x=m.group(2), ax=(m.group(1) or "") + m.group(2)) for f in FORMS_EN]
        m = re.match(r"^什么是(.+)？$", q)
        if m:
            terms[a] = [f.format(x=m.group(1)) for f in FORMS_ZH]
    extra_train = []
    for i, (a, forms) in enumerate(terms.items()):
        fresh = [f for f in forms if f not in held and f not in asked]
        for k in range(2):
            extra_train.append(chat(fresh[(i + 3 * k) % len(fresh)], a))
    with open(os.path.join(HERE, "train.jsonl"), "w", encoding="utf-8") as f:
        for r in hand + extra_train:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"train.jsonl: {len(hand)} hand-written + {len(extra_train)} generated ({len(terms)} terms)")
    with open(os.path.join(HERE, "pretrain-extra.jsonl"), "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(definitions)} definitions x 4 facts, {n} everyday definitions x 3 phrasings: {len(out)} records")


if __name__ == "__main__":
    main()
