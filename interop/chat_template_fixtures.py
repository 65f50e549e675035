"""Records how transformers renders the chat templates of peft4j's template tests.

For every template in peft-core/src/test/resources/org/peft4j/data/chat-templates/*.jinja (written for peft4j in the
shapes of well-known models' templates, indentation and whitespace control included) and a few conversations, the
text transformers' own compiled template gives (transformers.utils.chat_template_utils._compile_jinja_template: the
sandboxed jinja2 environment with trim_blocks and lstrip_blocks that apply_chat_template uses), with and without
add_generation_prompt, or the error it raises. peft4j's ChatTemplateJinja2ParityTest renders the same with Jinjava.

No downloads. Run with the interop venv from the repository root:
  interop/.venv/bin/python interop/chat_template_fixtures.py
Writes interop/fixtures/chat-templates/reference.json.
"""
import glob
import json
import os

import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEMPLATES = os.path.join(ROOT, "peft-core/src/test/resources/org/peft4j/data/chat-templates")


def chats():
    def conv(system, turns):
        out = [{"role": "system", "content": "  Be brief.  "}] if system else []
        for i in range(turns):
            out.append({"role": "user", "content": f"q{i} {{{{ 7*7 }}}}\n  indented"})
            out.append({"role": "assistant", "content": f"a{i} \n" if i % 2 == 0 else f"\n answer {i}"})
        return out
    return [conv(False, 1), conv(True, 1), conv(True, 3), conv(False, 2)[:-1]]


def main():
    cases = {}
    for path in sorted(glob.glob(os.path.join(TEMPLATES, "*.jinja"))):
        name = os.path.basename(path)[:-len(".jinja")]
        with open(path, encoding="utf-8") as f:
            compiled = _compile_jinja_template(f.read())
        rows = []
        for messages in chats():
            for gen in (False, True):
                row = {"messages": messages, "add_generation_prompt": gen}
                try:
                    row["rendered"] = compiled.render(messages=messages, bos_token="<s>", eos_token="</s>",
                                                      add_generation_prompt=gen)
                except Exception as e:  # the template's raise_exception
                    row["error"] = str(e)
                rows.append(row)
        cases[name] = rows
    out = os.path.join(HERE, "fixtures", "chat-templates")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"transformers": transformers.__version__, "cases": cases}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
