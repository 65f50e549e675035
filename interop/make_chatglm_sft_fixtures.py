"""ChatGLM3 chat tokenisation for fine-tuning and generation (issue 14), from THUDM's tokenization_chatglm.py.

Run in the SEPARATE ChatGLM virtualenv (interop/requirements-chatglm.txt), after make_chatglm_tokenizer_fixtures.py:
    CHATGLM_REF=/work/chatglm-ref /work/chatglm-venv/bin/python interop/make_chatglm_sft_fixtures.py
Writes interop/fixtures/chatglm/sft.json with, for a few conversations tokenised by ChatGLMTokenizer over the
fixture's bpe.model:
  finetune  input_ids and labels as ChatGLM3's finetune_demo (finetune_hf.py, process_batch) builds them:
            [gMASK] sop, build_single_message(role, "", content) per message, the eos; loss mask of non-system,
            non-user messages, shifted right by one ([False, *loss_masks]); labels -100 where not scored
  chat      build_chat_input(query, history) ids (the generation prompt of model.chat)
  decoded   tokenizer.decode(ids, skip_special_tokens=True) of the finetune ids
"""
import json
import os
import sys

sys.path.insert(0, os.environ.get("CHATGLM_REF", "/work/chatglm-ref"))
from chatglm_ref.tokenization_chatglm import ChatGLMTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "chatglm")

CONVERSATIONS = [
    [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！有什么可以帮你的吗？"}],
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "What is LoRA?"},
     {"role": "assistant", "content": "A low-rank adapter for fine-tuning."}],
    [{"role": "user", "content": "北京是哪个国家的首都？"}, {"role": "assistant", "content": "北京是中国的首都。"},
     {"role": "user", "content": "And Paris?"}, {"role": "assistant", "content": "Paris is the capital of France."}],
    [{"role": "user", "content": "def add(a, b):"}, {"role": "assistant", "content": "    return a + b\n"},
     {"role": "observation", "content": "ok"}, {"role": "assistant", "content": "Done."}],
]


def process_batch(tok, conv):
    """ChatGLM3 finetune_demo's process_batch for one conversation, without truncation."""
    input_ids = [tok.get_command("[gMASK]"), tok.get_command("sop")]
    loss_masks = [False, False]
    for m in conv:
        learn = m["role"] not in ("system", "user")
        new = tok.build_single_message(m["role"], "", m["content"])
        input_ids += new
        loss_masks += [learn] * len(new)
    input_ids.append(tok.eos_token_id)
    loss_masks = [False, *loss_masks]
    labels = [i if k else -100 for i, k in zip(input_ids, loss_masks)]
    return input_ids, labels


def main():
    tok = ChatGLMTokenizer(vocab_file=os.path.join(OUT, "tokenizer", "bpe.model"))
    cases = []
    for conv in CONVERSATIONS:
        ids, labels = process_batch(tok, conv)
        history = [{"role": m["role"], "content": m["content"], "metadata": ""} for m in conv[:-2]]
        query = conv[-2]["content"]
        chat = tok.build_chat_input(query, history=history, role=conv[-2]["role"])["input_ids"][0].tolist()
        cases.append({"messages": conv, "finetune": {"input_ids": ids, "labels": labels}, "chat": chat,
                      "chat_messages": len(conv) - 1,
                      "decoded": tok.decode(ids, skip_special_tokens=True)})
    with open(os.path.join(OUT, "sft.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "ChatGLM3 finetune_demo process_batch / build_chat_input over tokenizer/bpe.model",
                   "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
