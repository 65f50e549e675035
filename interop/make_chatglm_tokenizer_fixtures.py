"""SentencePiece / ChatGLMTokenizer fixtures for peft4j's Java SentencePiece reader (interop/README.md).

Run in the chatglm virtualenv (interop/requirements-chatglm.txt):
    CHATGLM_REF=/work/chatglm-ref /work/chatglm-venv/bin/python interop/make_chatglm_tokenizer_fixtures.py
Trains two small BPE SentencePiece models with byte fallback (identity normalizer as ChatGLM's; one keeping and one
removing extra whitespace) on a generated mixed corpus, and writes interop/fixtures/chatglm/tokenizer/:
  bpe.model, bpe-trim.model          the models (a few KB each)
  cases.json                         strings with sentencepiece's ids, pieces and decoded text for both models, and
                                     ChatGLMTokenizer (THUDM tokenization_chatglm.py) ids: tokenizer(text), decode
                                     with special tokens, build_chat_input (ChatGLM3), ChatGLM2's "[Round N]" prompt
It also copies bpe.model as tokenizer.model (+ tokenizer_config.json) into interop/fixtures/chatglm/model/.
"""
import json
import os
import random
import shutil
import sys

import sentencepiece as spm

sys.path.insert(0, os.environ.get("CHATGLM_REF", "/work/chatglm-ref"))
from chatglm_ref.tokenization_chatglm import ChatGLMTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "chatglm", "tokenizer")
MODEL_DIR = os.path.join(HERE, "fixtures", "chatglm", "model")

EN = ["The quick brown fox jumps over the lazy dog.", "Fine-tuning large language models with LoRA is cheap.",
      "def add(a, b):\n    return a + b\n", "for (int i = 0; i < n; i++) { sum += x[i]; }",
      "Hello, world! How are you today?", "Parameter-efficient fine-tuning adapts a few weights.",
      "import torch\nprint(torch.__version__)", "The weather is nice; let's go for a walk in the park."]
ZH = ["你好，世界！", "今天天气很好，我们去公园散步吧。", "大语言模型的参数高效微调。", "请问你叫什么名字？",
      "我喜欢学习中文和编程。", "机器学习是人工智能的一个分支。", "问：你好\n\n答：你好！有什么可以帮你的吗？",
      "北京是中国的首都。", "这个模型可以用来回答问题。"]


def corpus(path):
    rnd = random.Random(0)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(3000):
            parts = [rnd.choice(EN if rnd.random() < 0.5 else ZH) for _ in range(rnd.randint(1, 3))]
            f.write(" ".join(parts).replace("\n", " ") + "\n")


def test_strings():
    rnd = random.Random(1)
    extra = ["", " ", "  ", "a", "   leading and trailing   ", "tabs\tand\nnewlines\r\n", "multiple    spaces",
             "emoji 😀👍🏽 and ♥ symbols", "unseen 漢字 ɡʁøß ñ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "数字 12345 and 3.14159",
             "<|user|> not special", "[gMASK] sop literal", "▁ raw marker", "\u00a0nbsp\u3000ideographic space",
             "x" * 40, "___", "_____", "x___y", "a__b___c", "print(x.__len__)", "混合 mixed 文本 text", "🙂", "\n", "\t\t", "ＦＵＬＬＷＩＤＴＨ", "e\u0301 combining"]
    out = list(extra)
    pool = EN + ZH + extra
    while len(out) < 300:
        k = rnd.randint(1, 3)
        s = "".join(rnd.choice(pool) + rnd.choice(["", " ", "  ", "\n", "\t", "😀", "。"]) for _ in range(k))
        if rnd.random() < 0.3:
            i = rnd.randint(0, len(s))
            s = s[:i] + chr(rnd.choice([rnd.randint(0x4e00, 0x9fff), rnd.randint(0x1f300, 0x1f5ff),
                                       rnd.randint(0x20, 0x7e), rnd.randint(0xc0, 0x24f)])) + s[i:]
        out.append(s)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = os.path.join(OUT, "_corpus.txt")
    corpus(tmp)
    common = dict(input=tmp, model_type="bpe", vocab_size=500, byte_fallback=True, character_coverage=0.995,
                  normalization_rule_name="identity", split_digits=True, add_dummy_prefix=True,
                  num_threads=1, minloglevel=2)
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(OUT, "bpe"), remove_extra_whitespaces=False, **common)
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(OUT, "bpe-trim"), remove_extra_whitespaces=True,
                                   **common)
    os.remove(tmp)
    for f in ("bpe.vocab", "bpe-trim.vocab"):
        os.remove(os.path.join(OUT, f))
    strings = test_strings()
    cases = {"strings": strings}
    for name in ("bpe", "bpe-trim"):
        sp = spm.SentencePieceProcessor(model_file=os.path.join(OUT, name + ".model"))
        ids = [sp.encode(s) for s in strings]
        cases[name] = {"ids": ids, "pieces": [sp.encode(s, out_type=str) for s in strings[:40]],
                       "decoded": [sp.decode(i) for i in ids], "vocab_size": sp.vocab_size()}
    shutil.copy(os.path.join(OUT, "bpe.model"), os.path.join(MODEL_DIR, "tokenizer.model"))
    with open(os.path.join(MODEL_DIR, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "ChatGLMTokenizer", "padding_side": "left", "remove_space": False,
                   "do_lower_case": False,
                   "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]}}, f, indent=2)
    tok = ChatGLMTokenizer(vocab_file=os.path.join(OUT, "bpe.model"))
    glm = {"vocab_size": tok.vocab_size, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id,
           "special_tokens": tok.tokenizer.special_tokens,
           "with_special": [tok(s)["input_ids"] for s in strings[:30]]}
    # decode with special tokens interleaved
    seqs = []
    rnd = random.Random(2)
    for s in strings[:30]:
        ids = tok.tokenizer.encode(s)
        specials = list(tok.tokenizer.special_tokens.values())
        for _ in range(2):
            ids.insert(rnd.randint(0, len(ids)), rnd.choice(specials))
        seqs.append([ids, tok.decode(ids)])
    glm["decode"] = seqs
    chats = []
    convs = [("你好", []), ("What is LoRA?", [{"role": "system", "content": "You are helpful."}]),
             ("再说一遍", [{"role": "user", "content": "讲个笑话"}, {"role": "assistant", "content": "好的。\n哈哈"}])]
    for q, h in convs:
        chats.append({"query": q, "history": h, "ids": tok.build_chat_input(q, history=h)["input_ids"][0].tolist()})
    glm["chat3"] = chats
    v2 = []
    for q, h in [("你好", []), ("今天呢", [["你好", "你好！"], ["天气", "晴"]])]:
        prompt = ""
        for i, (oq, r) in enumerate(h):
            prompt += "[Round {}]\n\n问：{}\n\n答：{}\n\n".format(i + 1, oq, r)
        prompt += "[Round {}]\n\n问：{}\n\n答：".format(len(h) + 1, q)
        v2.append({"query": q, "history": h, "prompt": prompt, "ids": tok(prompt)["input_ids"]})
    glm["chat2"] = v2
    cases["chatglm"] = glm
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, separators=(",", ":"))
    print(len(strings), os.path.getsize(os.path.join(OUT, "bpe.model")), glm["chat3"][0])


if __name__ == "__main__":
    main()
