#!/usr/bin/env python3
"""4-bit layer and QLoRA fixtures (bitsandbytes + transformers + PEFT -> Java) for peft4j's Linear4bit.

Run with the interop venv from the repository root:

    interop/.venv/bin/python interop/make_layer_fixtures.py [OUT]      (OUT defaults to interop/fixtures/layer)

Writes:
  linear4bit.safetensors   per case <c>.*: the float weight W, bias, bnb's packed weight and quant state
                           (absmax, quant_map, nested_absmax, nested_quant_map, offset), bnb's dequantized weight
                           W_dq (dequantize_4bit), an input x, the output
                           y = bnb.nn.Linear4bit(x) (compute dtype float32), a cotangent gy and dx = d(sum(y*gy))/dx
                           from torch autograd (bnb's MatMul4Bit backward)
  linear4bit.json          per case: in/out features, bias, quant type, blocksize, double quant
  qlora/base/              the tiny Llama (hidden 64, a multiple of the blocksize) loaded by transformers in 4 bits
                           (nf4, double quant, compute dtype float32) and saved with save_pretrained: packed weights
                           and quant-state keys exactly as transformers + bnb write them
  qlora/adapter/           a LoRA adapter (r 4, alpha 8, all linear projections, random A and B) saved by PEFT on that
                           4-bit base
  qlora/expected.safetensors  input_ids, attention_mask, labels, base_logits, lora_logits, the training step's loss and
                           grad.<PEFT name> of every LoRA tensor (after prepare_model_for_kbit_training),
                           merged_logits (merge_and_unload on the 4-bit base: dequantize, add, re-quantize),
                           merged_adapter_logits / unmerged_logits (merge_adapter, then unmerge_adapter) and the
                           re-quantized state of layers.0.self_attn.q_proj after the merge (merged.q_proj0.*)
  qlora/case.json          parameter counts as PEFT prints them, module listings, PEFT's merge warning

bitsandbytes' portable path is forced by interop/bnb_portable.py (imported before bitsandbytes): its fast CPU
kernels (backends/cpu/ops.py) are registered only when the native library loads, so an import hook replaces
bitsandbytes.cextension.lib by its own ErrorHandlerMockBNBNativeLibrary before the backends are imported; every 4-bit
op then runs on the pure-torch "default" backend (also no AVX512-BF16 eval path: has_avx512bf16() is False). The
script asserts that no CPU kernel is registered. CPU only, one thread, fixed seeds.
"""

import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
if os.environ.get("PYTHONHASHSEED") != "0":  # PEFT writes target_modules (a set) in set-iteration order
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bnb_portable  # noqa: E402  (before bitsandbytes)

import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402

import bitsandbytes as bnb  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))


assert_portable = bnb_portable.assert_portable


def state_tensors(prefix, w):
    qs = w.quant_state
    t = {prefix + "packed": w.data.contiguous().clone(), prefix + "quant_map": qs.code.clone()}
    if qs.nested:
        t[prefix + "absmax"] = qs.absmax.clone()
        t[prefix + "nested_absmax"] = qs.state2.absmax.clone()
        t[prefix + "nested_quant_map"] = qs.state2.code.clone()
        t[prefix + "offset"] = qs.offset.reshape(()).float().clone()
    else:
        t[prefix + "absmax"] = qs.absmax.clone()
    return t


LAYER_CASES = [
    # name, in, out, bias, quant type, blocksize, double quant, x shape
    ("nf4_dq", 128, 96, True, "nf4", 64, True, (2, 3, 128)),
    ("fp4", 64, 40, False, "fp4", 64, False, (5, 64)),
    ("nf4_odd", 33, 7, True, "nf4", 64, True, (4, 33)),       # odd numel, partial block
    ("nf4_nested2", 256, 80, False, "nf4", 64, True, (3, 256)),  # 320 blocks: two nested blocks, one partial
    ("nf4_b32", 96, 24, True, "nf4", 32, False, (2, 96)),
]


def build_layers(out):
    tensors, meta = {}, {}
    for i, (name, fin, fout, bias, qt, bs, dq, xshape) in enumerate(LAYER_CASES):
        g = torch.Generator().manual_seed(1000 + i)
        w = torch.randn(fout, fin, generator=g) * 0.05
        b = torch.randn(fout, generator=g) * 0.1 if bias else None
        lin = bnb.nn.Linear4bit(fin, fout, bias=bias, compute_dtype=torch.float32, compress_statistics=dq,
                                quant_type=qt)
        lin.weight = bnb.nn.Params4bit(w.clone(), requires_grad=False, blocksize=bs, compress_statistics=dq,
                                       quant_type=qt)
        if bias:
            lin.bias = torch.nn.Parameter(b.clone())
        lin = lin.to("cpu")
        assert lin.weight.dtype == torch.uint8 and lin.weight.quant_state.blocksize == bs
        x = torch.randn(*xshape, generator=g).requires_grad_(True)
        y = lin(x)
        gy = torch.randn(y.shape, generator=g)
        (y * gy).sum().backward()
        p = name + "."
        tensors[p + "W"] = w
        if bias:
            tensors[p + "bias"] = b
        tensors.update(state_tensors(p, lin.weight))
        tensors[p + "W_dq"] = bnb.functional.dequantize_4bit(lin.weight.data, lin.weight.quant_state)
        tensors[p + "x"] = x.detach()
        tensors[p + "y"] = y.detach()
        tensors[p + "gy"] = gy
        tensors[p + "dx"] = x.grad.detach()
        meta[name] = dict(in_features=fin, out_features=fout, bias=bias, quant_type=qt, blocksize=bs,
                          double_quant=dq, repr=repr(lin))
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "linear4bit.safetensors"))
    with open(os.path.join(out, "linear4bit.json"), "w") as f:
        json.dump(meta, f, indent=1)


TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def bnb_config():
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.float32)


def load4(path):
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=bnb_config(), device_map="cpu",
                                                dtype=torch.float32, attn_implementation="eager")


def build_qlora(out):
    folder = os.path.join(out, "qlora")
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    tmp = tempfile.mkdtemp()
    cfg = LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=64,
                      rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(7)
    fp = LlamaForCausalLM(cfg)
    with torch.no_grad():  # visible norms (not all ones)
        for n, p in fp.named_parameters():
            if "norm" in n:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    fp.save_pretrained(os.path.join(tmp, "fp"))
    info = {}
    with warnings.catch_warnings(record=True) as wrec:
        warnings.simplefilter("always")
        m4 = load4(os.path.join(tmp, "fp"))
        assert type(m4.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
        m4.save_pretrained(os.path.join(folder, "base"))
        info["base_counts"] = [m4.num_parameters(), sum(p.numel() for p in m4.parameters())]

        g = torch.Generator().manual_seed(11)
        ids = torch.randint(3, cfg.vocab_size, (2, 7), generator=g)
        mask = torch.ones(2, 7, dtype=torch.long)
        mask[1, :2] = 0
        ids[1, :2] = 0
        labels = ids.clone()
        labels[mask == 0] = -100
        labels[0, :2] = -100
        m4.eval()
        with torch.no_grad():
            base_logits = m4(input_ids=ids, attention_mask=mask).logits

        # the adapter: on a 4-bit base loaded afresh, kbit-prepared as users do
        base = load4(os.path.join(folder, "base"))
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
        torch.manual_seed(12)
        pm = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, lora_dropout=0.0,
                                             init_lora_weights=False, task_type="CAUSAL_LM"))
        info["lora_type"] = type(pm.base_model.model.model.layers[0].self_attn.q_proj).__module__ + "." + \
            type(pm.base_model.model.model.layers[0].self_attn.q_proj).__name__
        info["lora_repr"] = repr(pm.base_model.model.model.layers[0].self_attn.q_proj)
        info["trainable"], info["all"] = pm.get_nb_trainable_parameters()
        import io
        import contextlib
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            pm.print_trainable_parameters()
        info["print_trainable_parameters"] = buf.getvalue().strip()
        info["float32_params_after_prepare"] = sorted(n for n, p in pm.named_parameters()
                                                      if p.dtype == torch.float32 and "lora_" not in n)
        pm.save_pretrained(os.path.join(folder, "adapter"))
        pm.train()
        outp = pm(input_ids=ids, attention_mask=mask, labels=labels)
        outp.loss.backward()
        t = {"input_ids": ids, "attention_mask": mask, "labels": labels, "base_logits": base_logits,
             "loss": outp.loss.detach().reshape(())}
        for n, p in pm.named_parameters():
            if p.requires_grad:
                assert "lora_" in n, n
                t["grad." + n] = p.grad.detach().clone()
        pm.eval()
        with torch.no_grad():
            t["lora_logits"] = pm(input_ids=ids, attention_mask=mask).logits

        # PEFT loads the saved adapter onto a fresh 4-bit base and reproduces the logits
        again = PeftModel.from_pretrained(load4(os.path.join(folder, "base")), os.path.join(folder, "adapter"))
        again.eval()
        with torch.no_grad():
            assert torch.allclose(again(input_ids=ids, attention_mask=mask).logits, t["lora_logits"], atol=1e-5)
            merged = again.merge_and_unload()
            t["merged_logits"] = merged(input_ids=ids, attention_mask=mask).logits
        # merge then unmerge (both re-quantize): PEFT's merge_adapter / unmerge_adapter
        mu = PeftModel.from_pretrained(load4(os.path.join(folder, "base")), os.path.join(folder, "adapter"))
        mu.eval()
        with torch.no_grad():
            mu.merge_adapter()
            t["merged_adapter_logits"] = mu(input_ids=ids, attention_mask=mask).logits
            mu.unmerge_adapter()
            t["unmerged_logits"] = mu(input_ids=ids, attention_mask=mask).logits
        q = merged.model.layers[0].self_attn.q_proj
        info["after_merge_type"] = type(q).__name__
        info["after_merge_quant_state"] = dict(dtype=str(q.weight.quant_state.dtype),
                                               nested=q.weight.quant_state.nested)
        t.update(state_tensors("merged.q_proj0.", q.weight))
    info["warnings"] = sorted({str(w.message) for w in wrec if "rounding" in str(w.message)
                               or "4-bit" in str(w.message)})
    info["merge_warning_count"] = sum(1 for w in wrec if str(w.message).startswith("Merge lora module to 4-bit"))
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(folder, "expected.safetensors"))
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(info, f, indent=1)
    shutil.rmtree(tmp)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "layer")
    os.makedirs(out, exist_ok=True)
    assert_portable()
    build_layers(out)
    build_qlora(out)
    assert_portable()
    print("wrote", out)


if __name__ == "__main__":
    main()
