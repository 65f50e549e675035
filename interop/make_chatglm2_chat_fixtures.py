"""ChatGLM2 chat tokenisation (issue 14): ChatGLM2-6B's tokenizer rules over real sentencepiece.

Run with any Python that has sentencepiece (e.g. the ChatGLM venv of interop/requirements-chatglm.txt):
    /work/chatglm-venv/bin/python interop/make_chatglm2_chat_fixtures.py
Writes interop/fixtures/chatglm/chatglm2.json for the fixture's tokenizer/bpe.model, following ChatGLM2-6B's
tokenization_chatglm.py (read, not copied: SPTokenizer numbers the five command tokens [MASK] [gMASK] [sMASK] sop eop
after the pieces; encode(add_special_tokens=True) puts [gMASK] sop first; pad is the unknown id; build_prompt writes
"[Round i]\\n\\n问：q\\n\\n答：r\\n\\n" per earlier turn and "[Round n]\\n\\n问：query\\n\\n答：") and its fine-tuning recipe
(ptuning/main.py preprocess_function_train: a_ids = encode(prompt, True), b_ids = encode(answer, False),
input_ids = a + b + [eos], labels = [pad] * len(a) + b + [eos], then pad labels -> -100). For each conversation:
  chat      ids of the generation prompt (build_prompt of the last user message, history before it)
  finetune  input_ids and labels of the recipe for the last (query, answer) pair with the earlier pairs as history
"""
import json
import os

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "chatglm")

CONVERSATIONS = [
    [("你好", "你好！有什么可以帮你的吗？")],
    [("What is LoRA?", "A low-rank adapter."), ("And QLoRA?", "LoRA on a 4-bit base model.")],
    [("北京是哪个国家的首都？", "中国。"), ("上海呢？", "上海是中国的城市。"), ("谢谢", "不客气")],
]


def main():
    sp = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "tokenizer", "bpe.model"))
    n = sp.vocab_size()
    gmask, sop = n + 1, n + 3
    eos, pad = sp.eos_id(), sp.unk_id()

    def encode(text, special):
        ids = sp.encode(text)
        return [gmask, sop] + ids if special else ids

    def build_prompt(query, history):
        prompt = ""
        for i, (q, r) in enumerate(history):
            prompt += "[Round {}]\n\n问：{}\n\n答：{}\n\n".format(i + 1, q, r)
        return prompt + "[Round {}]\n\n问：{}\n\n答：".format(len(history) + 1, query)

    cases = []
    for conv in CONVERSATIONS:
        history, (query, answer) = conv[:-1], conv[-1]
        a = encode(build_prompt(query, history), True)
        b = encode(answer, False)
        ids = a + b + [eos]
        labels = [pad] * len(a) + b + [eos]
        labels = [l if l != pad else -100 for l in labels]
        messages = []
        for q, r in conv:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": r}]
        cases.append({"messages": messages, "chat": a, "finetune": {"input_ids": ids, "labels": labels}})
    with open(os.path.join(OUT, "chatglm2.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "ChatGLM2-6B tokenization_chatglm.py rules + ptuning/main.py over tokenizer/bpe.model",
                   "vocab_size": n + 5, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
