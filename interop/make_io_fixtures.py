"""4-bit (bitsandbytes) checkpoint fixtures for peft4j's QLoRA loading and saving (peft-qlora, package org.peft4j.qlora).

Writes interop/fixtures/io/:
  float/                 a tiny random Llama (hidden 64, intermediate 64, 2 layers, 4 heads, 2 kv heads, vocab 128,
                         untied lm_head) saved by transformers in float32
  nf4-dq/                that folder loaded by transformers with BitsAndBytesConfig(load_in_4bit, nf4, double quant,
                         compute dtype bfloat16) and saved again (packed weights + quant-state keys + quantization_config)
  fp4/                   the same with fp4, no double quant, compute dtype float32 (transformers' default)
  reference.safetensors  input_ids int64 [2, 6]; per case (nf4-dq, fp4):
                           <case>.logits        float32 [2, 6, 128]: the 4-bit model's logits, as transformers computes
                                                them (nf4-dq: bfloat16 compute, widened exactly)
                           <case>.logits_f32    the same model with every Linear4bit's compute dtype set to float32
                                                (dequantized weight times float32 activations)
                           <case>.generate      int64 [1, 5 + 8]: greedy generate (8 new tokens, KV cache) from the
                                                first row's first 5 ids
                         float.logits: the float32 model's logits (for scale)
  reference.json         versions, what transformers did at load (dtype of each parameter kind, which modules became
                         Linear4bit, with and without llm_int8_skip_modules), and the independent dequantization check;
                         "f16": the float folder loaded with nf4-dq and dtype=torch.float16: parameter dtypes and the
                         sha256 of every tensor save_pretrained writes (the folder itself is not kept); "gpt2": which
                         modules of fixtures/models/gpt2 became Linear4bit in nf4 (its Conv1D layers, transposed)
  reference.safetensors  also gpt2.input_ids / gpt2.logits: fixtures/models/gpt2 loaded in nf4 (float32 compute)

bitsandbytes' portable path is forced: before bitsandbytes is imported, ctypes.cdll.LoadLibrary refuses to load
libbitsandbytes_cpu, so bnb's native library is its ErrorHandlerMockBNBNativeLibrary, backends/cpu/ops.py registers
none of its native kernels (quantize/dequantize_blockwise, dequantize_4bit, gemv_4bit) and every op runs bnb's
pure-torch default backend; has_avx512bf16() is then False, so no Linear4bit forward repacks weights for the
AVX512-BF16 path (bitsandbytes.nn.modules.has_avx512bf16 is patched to False as well). The script asserts both, and
checks that every 4-bit weight bnb dequantizes equals an independent numpy dequantization of the saved keys
(shared/reference/qlora.md section 4) bit for bit, and that quantize_4bit of the float weight gives the saved bytes.

Rerun:  /work/main/interop/.venv/bin/python interop/make_io_fixtures.py [OUT]
"""
import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ctypes  # noqa: E402

_load_library = ctypes.cdll.LoadLibrary


def _refuse_bnb_native(path, *args, **kwargs):
    if "libbitsandbytes" in str(path):
        raise OSError("make_io_fixtures: bitsandbytes' native library refused (portable path forced): " + str(path))
    return _load_library(path, *args, **kwargs)


ctypes.cdll.LoadLibrary = _refuse_bnb_native

import json  # noqa: E402
import shutil  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.nn.modules as bnb_modules  # noqa: E402
from bitsandbytes.cextension import ErrorHandlerMockBNBNativeLibrary, lib as bnb_lib  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402

bnb_modules.has_avx512bf16 = lambda: False

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "nf4-dq": dict(bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.bfloat16),
    "fp4": dict(bnb_4bit_quant_type="fp4"),
}
NEW_TOKENS = 8


def portable(model):
    """Asserts no Linear4bit can take bnb's AVX512-BF16 path."""
    assert isinstance(bnb_lib, ErrorHandlerMockBNBNativeLibrary) and not bnb.functional.has_avx512bf16()
    n = 0
    for m in model.modules():
        if isinstance(m, bnb.nn.Linear4bit):
            assert not m.support_avx512bf16_for_cpu
            assert not getattr(m.weight.quant_state, "packing_format_for_cpu", False)
            n += 1
    return n


def linear4bit_names(model):
    return sorted(n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit))


def numpy_dequant(sd, prefix):
    """qlora.md section 4, from the saved keys only."""
    js = None
    for k in sd:
        if k.startswith(prefix + "weight.quant_state.bitsandbytes__"):
            js = json.loads(bytes(sd[k].tolist()).decode("utf-8"))
    packed = sd[prefix + "weight"].numpy().reshape(-1)
    code = sd[prefix + "weight.quant_map"].numpy().astype(np.float32)
    if "nested_blocksize" in js:
        dyn = sd[prefix + "weight.nested_quant_map"].numpy().astype(np.float32)
        nab = sd[prefix + "weight.nested_absmax"].numpy().astype(np.float32)
        q = sd[prefix + "weight.absmax"].numpy().astype(np.int64)
        b = np.arange(q.size) // js["nested_blocksize"]
        absmax = (dyn[q] * nab[b]).astype(np.float32) + np.float32(js["nested_offset"])
    else:
        absmax = sd[prefix + "weight.absmax"].numpy().astype(np.float32)
    nib = np.stack([packed >> 4, packed & 15], axis=1).reshape(-1)
    n = int(np.prod(js["shape"]))
    w = (code[nib[:n]] * absmax[np.arange(n) // js["blocksize"]]).astype(np.float32)
    return w.reshape(js["shape"]), js


def main(out):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    torch.manual_seed(20261126)
    cfg = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, initializer_range=0.1)
    fm = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # norms away from exactly 1 so that they matter
        for n, p in fm.named_parameters():
            if "norm" in n:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    fm.save_pretrained(os.path.join(out, "float"))
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(3, cfg.vocab_size, (2, 6), generator=g)
    ref = {"input_ids": ids}
    with torch.no_grad():
        ref["float.logits"] = fm(input_ids=ids).logits.float().contiguous()
    info = {"torch": torch.__version__, "transformers": transformers.__version__, "bitsandbytes": bnb.__version__,
            "bnb_backend": "default (pure torch; native library refused)", "cases": {}}
    for case, kw in CASES.items():
        qc = BitsAndBytesConfig(load_in_4bit=True, **kw)
        m = AutoModelForCausalLM.from_pretrained(os.path.join(out, "float"), quantization_config=qc,
                                                 device_map="cpu", attn_implementation="eager").eval()
        nq = portable(m)
        ci = {"quantization_config": qc.to_dict(), "linear4bit": linear4bit_names(m),
              "param_dtypes": {n: str(p.dtype).replace("torch.", "") for n, p in m.named_parameters()}}
        m.save_pretrained(os.path.join(out, case))
        # reload the saved folder: what plain from_pretrained(dir) gives
        m2 = AutoModelForCausalLM.from_pretrained(os.path.join(out, case), device_map="cpu",
                                                  attn_implementation="eager").eval()
        portable(m2)
        assert linear4bit_names(m2) == ci["linear4bit"]
        with torch.no_grad():
            lg = m2(input_ids=ids).logits
            assert lg.dtype == torch.float32
            ref[case + ".logits"] = lg.contiguous()
            ref[case + ".generate"] = m2.generate(ids[:1, :5], max_new_tokens=NEW_TOKENS, do_sample=False,
                                                  min_new_tokens=NEW_TOKENS, use_cache=True,
                                                  pad_token_id=0).contiguous()
            for mod in m2.modules():
                if isinstance(mod, bnb.nn.Linear4bit):
                    mod.compute_dtype = torch.float32
            ref[case + ".logits_f32"] = m2(input_ids=ids).logits.contiguous()
            # independent check of the portable path: bnb's dequantization == numpy from the saved keys
            sd = load_file(os.path.join(out, case, "model.safetensors"))
            worst = 0
            for name in ci["linear4bit"]:
                mod = m2.get_submodule(name)
                w_bnb = bnb.functional.dequantize_4bit(mod.weight.data, mod.weight.quant_state).float().numpy()
                w_np, js = numpy_dequant(sd, name + ".")
                assert w_bnb.shape == w_np.shape
                worst = max(worst, float(np.abs(w_bnb - w_np).max()))
            assert worst == 0.0, worst
            # quantizing the float weight again gives exactly the saved bytes
            for name in ci["linear4bit"]:
                w = fm.get_submodule(name).weight.data
                p, st = bnb.functional.quantize_4bit(w, blocksize=64, quant_type=kw["bnb_4bit_quant_type"],
                                                     compress_statistics=kw.get("bnb_4bit_use_double_quant", False))
                assert torch.equal(p, sd[name + ".weight"]), name
        ci["reload_param_dtypes"] = {n: str(p.dtype).replace("torch.", "") for n, p in m2.named_parameters()}
        ci["linear4bit_count"] = nq
        ci["dequant_numpy_max_abs_diff"] = worst
        ci["logits_bf16_vs_f32_compute_max_abs"] = float((ref[case + ".logits"] - ref[case + ".logits_f32"]).abs().max())
        ci["logits_vs_float_max_abs"] = float((ref[case + ".logits"] - ref["float.logits"]).abs().max())
        info["cases"][case] = ci
        print(case, "4-bit modules", nq, "vs float", ci["logits_vs_float_max_abs"], "bf16 vs f32 compute",
              ci["logits_bf16_vs_f32_compute_max_abs"], "generate", ref[case + ".generate"].tolist())
    # dtype=float16: what transformers gives the parameters it does not quantize, and the bytes it writes
    import hashlib
    import tempfile
    qc = BitsAndBytesConfig(load_in_4bit=True, **CASES["nf4-dq"])
    m = AutoModelForCausalLM.from_pretrained(os.path.join(out, "float"), quantization_config=qc, device_map="cpu",
                                             dtype=torch.float16)
    portable(m)
    with tempfile.TemporaryDirectory() as tmp:
        m.save_pretrained(tmp)
        sd = load_file(os.path.join(tmp, "model.safetensors"))
    info["f16"] = {"quantization_config": qc.to_dict(),
                   "param_dtypes": {n: str(p.dtype).replace("torch.", "") for n, p in m.named_parameters()},
                   "tensor_sha256": {k: hashlib.sha256(v.contiguous().view(torch.uint8).numpy().tobytes()).hexdigest()
                                     for k, v in sorted(sd.items())},
                   "tensor_dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in sorted(sd.items())}}
    # GPT-2 (Conv1D layers, weights stored [in, out]; tied lm_head): the committed fixtures/models/gpt2 in nf4
    qc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")
    m = AutoModelForCausalLM.from_pretrained(os.path.join(HERE, "fixtures", "models", "gpt2"), quantization_config=qc,
                                             device_map="cpu", attn_implementation="eager").eval()
    portable(m)
    gids = torch.randint(1, m.config.vocab_size, (2, 6), generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        ref["gpt2.input_ids"] = gids
        ref["gpt2.logits"] = m(input_ids=gids).logits.float().contiguous()
    info["gpt2"] = {"quantization_config": qc.to_dict(), "linear4bit": linear4bit_names(m),
                    "param_dtypes": {n: str(p.dtype).replace("torch.", "") for n, p in m.named_parameters()}}
    # transformers' skip rules: with llm_int8_skip_modules given, the default skips (lm_head) are NOT added
    skips = {}
    for skip in (["o_proj"], ["model.layers.1", "gate_proj"], []):
        qc = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", llm_int8_skip_modules=skip)
        m = AutoModelForCausalLM.from_pretrained(os.path.join(out, "float"), quantization_config=qc, device_map="cpu")
        skips[json.dumps(skip)] = linear4bit_names(m)
    info["skip_modules"] = skips
    save_file(ref, os.path.join(out, "reference.safetensors"), metadata={"torch": torch.__version__})
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "fixtures", "io"))
