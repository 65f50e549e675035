"""QLoRA on ChatGLM (issue 14: the seed's QLoRA model family), from THUDM's original modeling_chatglm.py.

Run in the SEPARATE ChatGLM virtualenv (interop/requirements-chatglm.txt, which lists bitsandbytes 0.50.2 for this
script), after make_chatglm_fixtures.py has written interop/fixtures/chatglm/model:
    CHATGLM_REF=/work/chatglm-ref /work/chatglm-venv/bin/python interop/make_chatglm_qlora_fixtures.py

transformers 4.40's bitsandbytes integration refuses to quantize without a GPU, so this script does what it does on a
GPU by hand: every nn.Linear except the output layer (transformers' get_keys_to_not_convert keeps the output
embedding in float) becomes bnb.nn.Linear4bit (nf4, double quant, blocksize 64, compute float32; bitsandbytes'
portable path forced by bnb_portable.py), and the state dict is saved with the quantization_config transformers
writes. Writes interop/fixtures/chatglm/qlora/:
  base/                 config.json (+ quantization_config) and model.safetensors with the packed weights and quant states
  adapter/              PEFT 0.12's LoRA adapter (default target query_key_value, r 4, alpha 8, random A and B) on it
  expected.safetensors  input ids / mask (row 1 left-padded) / labels, base_logits, lora_logits, one training step's
                        loss and grad.<PEFT name> of every LoRA tensor (after prepare_model_for_kbit_training)
  case.json             the Linear4bit module names and PEFT's parameter counts
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bnb_portable  # noqa: E402,F401  (before bitsandbytes)
import bitsandbytes as bnb  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.environ.get("CHATGLM_REF", "/work/chatglm-ref"))
from chatglm_ref.configuration_chatglm import ChatGLMConfig  # noqa: E402
from chatglm_ref.modeling_chatglm import ChatGLMForConditionalGeneration  # noqa: E402
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

torch.set_num_threads(1)
SRC = os.path.join(HERE, "fixtures", "chatglm", "model")
OUT = os.path.join(HERE, "fixtures", "chatglm", "qlora")
QUANT_CONFIG = {"_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "float32",
                "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
                "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False,
                "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0, "load_in_4bit": True,
                "load_in_8bit": False, "quant_method": "bitsandbytes"}


def quantized(path):
    model = ChatGLMForConditionalGeneration.from_pretrained(path, config=ChatGLMConfig.from_pretrained(path),
                                                            torch_dtype=torch.float32).eval()
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n != "transformer.output_layer"]
    for n in names:
        lin = model.get_submodule(n)
        q = bnb.nn.Linear4bit(lin.in_features, lin.out_features, bias=lin.bias is not None,
                              compute_dtype=torch.float32, compress_statistics=True, quant_type="nf4")
        q.weight = bnb.nn.Params4bit(lin.weight.data.clone(), requires_grad=False, blocksize=64,
                                     compress_statistics=True, quant_type="nf4")
        if lin.bias is not None:
            q.bias = torch.nn.Parameter(lin.bias.data.clone(), requires_grad=False)
        q = q.to("cpu")
        parent, _, child = n.rpartition(".")
        setattr(model.get_submodule(parent), child, q)
    model.is_loaded_in_4bit = True
    return model, sorted(names)


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(os.path.join(OUT, "base"))
    m4, names = quantized(SRC)
    save_file({k: v.contiguous() for k, v in m4.state_dict().items()},
              os.path.join(OUT, "base", "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(SRC, "config.json")) as f:
        cfg = json.load(f)
    cfg["quantization_config"] = QUANT_CONFIG
    with open(os.path.join(OUT, "base", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")

    g = torch.Generator().manual_seed(11)
    ids = torch.randint(3, cfg["padded_vocab_size"], (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :2] = 0
    ids[1, :2] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    t = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    with torch.no_grad():
        t["base_logits"] = m4(input_ids=ids, attention_mask=mask).logits.float()

    base, _ = quantized(SRC)
    base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
    torch.manual_seed(12)
    pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                                         task_type="CAUSAL_LM"))
    trainable, total = pm.get_nb_trainable_parameters()
    lora_types = sorted({type(m).__module__ + "." + type(m).__name__ for m in pm.modules() if hasattr(m, "lora_A")})
    pm.save_pretrained(os.path.join(OUT, "adapter"))
    pm.train()
    o = pm(input_ids=ids, attention_mask=mask, labels=labels)
    o.loss.backward()
    t["loss"] = o.loss.detach().float().reshape(())
    for n, p in pm.named_parameters():
        if p.requires_grad:
            assert "lora_" in n, n
            t["grad." + n] = p.grad.detach().clone()
    pm.eval()
    with torch.no_grad():
        t["lora_logits"] = pm(input_ids=ids, attention_mask=mask).logits.float()
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "case.json"), "w") as f:
        json.dump({"linear4bit": names, "lora_types": lora_types, "trainable": trainable, "all": total, "bitsandbytes": bnb.__version__}, f, indent=1)
        f.write("\n")
    print(len(names), "Linear4bit;", lora_types, "loss", t["loss"].item())


if __name__ == "__main__":
    main()
