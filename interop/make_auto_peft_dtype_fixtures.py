"""AutoPeftModelForCausalLM.from_pretrained with torch_dtype and quantization_config, for peft4j's AutoPeftDtypeTest
(peft-lora) and AutoPeftQuantizedTest (peft-qlora).

Loads the committed PEFT 0.21.2 adapter fixtures/lora/qv (LoRA r 8 on q_proj / v_proj, random A and B, base
fixtures/models/llama-mha named by its base_model_name_or_path, relative to the repository root: run from there) with
PEFT's AutoPeftModelForCausalLM.from_pretrained(adapter, torch_dtype=..., quantization_config=...), which forwards both
keywords to transformers' AutoModelForCausalLM.from_pretrained for the base, on CPU with eager attention, and runs one
left-padded batch of 2 rows. Writes fixtures/auto-peft/qv.safetensors with
  input_ids, attention_mask   int64 [2, 7] (row 1 has 3 leading pads, pad id 0)
  logits_f32, logits_f16     float32 [2, 7, vocab]: torch_dtype float32 / float16, the half logits widened exactly
                              to float32 (no bfloat16: peft4j runs bfloat16 models on CUDA only)
  logits_nf4                  float32 [2, 7, vocab]: torch_dtype float32 with BitsAndBytesConfig(load_in_4bit=True,
                              bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=float32) on bitsandbytes' portable
                              (pure torch) path, forced by bnb_portable.py as for the other QLoRA fixtures
Rerun (from the repository root):  interop/.venv/bin/python interop/make_auto_peft_dtype_fixtures.py
"""
import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_portable  # noqa: E402  (before bitsandbytes: its pure-torch path, as the other QLoRA fixtures)
import torch
from peft import AutoPeftModelForCausalLM
from safetensors.torch import save_file
from transformers import BitsAndBytesConfig

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
SEQ, PADS = 7, 3


def main(out):
    torch.set_num_threads(1)
    os.chdir(os.path.dirname(HERE))  # base_model_name_or_path is relative to the repository root
    os.makedirs(out, exist_ok=True)
    adapter = os.path.join(FIX, "lora", "qv", "adapter")
    g = torch.Generator().manual_seed(4321)
    t = {}
    nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32)
    for key, dt, qc in [("f32", torch.float32, None), ("f16", torch.float16, None), ("nf4", torch.float32, nf4)]:
        kw = {"torch_dtype": dt, "attn_implementation": "eager"}
        if qc is not None:
            kw["quantization_config"] = qc
        m = AutoPeftModelForCausalLM.from_pretrained(adapter, **kw).eval()
        bnb_portable.assert_portable()
        q = m.base_model.model.model.layers[0].self_attn.q_proj
        assert q.base_layer.weight.dtype == (torch.uint8 if qc is not None else dt), (key, q.base_layer.weight.dtype)
        assert q.lora_B["default"].weight.abs().sum() > 0
        if "input_ids" not in t:
            ids = torch.randint(1, m.config.vocab_size, (2, SEQ), generator=g)
            ids[1, :PADS] = 0
            mask = torch.ones(2, SEQ, dtype=torch.long)
            mask[1, :PADS] = 0
            t["input_ids"], t["attention_mask"] = ids, mask
        with torch.no_grad():
            logits = m(input_ids=t["input_ids"], attention_mask=t["attention_mask"]).logits
        t["logits_" + key] = logits.float().contiguous()
        print(f"{key}: logits {logits.dtype}, max|logit-f32| {(t['logits_' + key] - t['logits_f32']).abs().max().item():.4g}")
    import peft
    import transformers
    save_file(t, os.path.join(out, "qv.safetensors"), metadata={
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIX, "auto-peft"))
