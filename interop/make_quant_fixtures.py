"""bitsandbytes 0.50.2 quantization fixtures for peft4j's org.peft4j.quant / org.peft4j.qlora (bit-exact tests).

Writes interop/fixtures/quant/:
  blockwise8.safetensors + blockwise8.json   create_dynamic_map(signed/unsigned), quantize_blockwise /
                                             dequantize_blockwise (8-bit) results
  (4-bit and LoftQ sections are added by later steps of the same script)

Code paths (see ../shared/reference/qlora.md section 9): bitsandbytes' CPU backend registers a native kernel for
quantize_blockwise / dequantize_blockwise (csrc/cpu_ops.cpp, the 65,536-entry lookup table); the script asserts the
native library is loaded, so the default CPU path is that one. quantize_4bit has no CPU kernel: the default (pure
torch) backend runs. dequantize_4bit's CPU kernel is the AVX-512 one that is NOT the reference, so the script calls
the default backend's eager _dequantize_4bit_compute (unwrapped from torch.compile) directly.

Inputs that are large are not stored: they come from a generator both sides implement (splitmix64 + Box-Muller in
float64, rounded to float32; see gaussian() here and org.peft4j.quant.TestGaussian in Java), with a checksum.

Rerun (from the repository root, about a minute):
  /work/main/interop/.venv/bin/python interop/make_quant_fixtures.py
"""
import json
import math
import os
import struct
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""
import torch
from safetensors.torch import save_file

import bitsandbytes.functional as F
from bitsandbytes.cextension import ErrorHandlerMockBNBNativeLibrary, lib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "quant")
M64 = (1 << 64) - 1


def splitmix64(seed):
    state = seed & M64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def gaussian(seed, n):
    """n standard normal float32 values: pairs by Box-Muller from splitmix64 doubles, computed in float64."""
    g = splitmix64(seed)
    out = []
    while len(out) < n:
        u1 = ((next(g) >> 11) + 1) * (2.0 ** -53)  # (0, 1]
        u2 = (next(g) >> 11) * (2.0 ** -53)  # [0, 1)
        r = math.sqrt(-2.0 * math.log(u1))
        t = 2.0 * math.pi * u2
        out.append(r * math.cos(t))
        out.append(r * math.sin(t))
    return torch.tensor(out[:n], dtype=torch.float64).to(torch.float32)


def checksum_f32(t):
    """Sum of the float32 bit patterns (as unsigned ints) mod 2^64: Java recomputes it on its own generator."""
    b = t.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    return int(b.sum().item()) & M64


def fnv1a(data: bytes):
    h = 0xCBF29CE484222325
    for x in data:
        h ^= x
        h = (h * 0x100000001B3) & M64
    return h


def xf_numel(x):
    return x.numel()


def blockwise8():
    assert not isinstance(lib, ErrorHandlerMockBNBNativeLibrary), "native bitsandbytes library not loaded"
    t, meta = {}, {"cases": {}}
    signed = F.create_dynamic_map(True)
    unsigned = F.create_dynamic_map(False)
    t["map_signed"] = signed
    t["map_unsigned"] = unsigned

    def case(name, x, code, blocksize, store_input=True, seed=None, extra=None):
        q, st = F.quantize_blockwise(x, code=code, blocksize=blocksize)
        deq = F.dequantize_blockwise(q, st)  # native dequantizeBlockwise8bitCpu
        assert deq.dtype == x.dtype
        if store_input:
            t[name + ".input"] = x
        t[name + ".codes"] = q.reshape(-1)
        t[name + ".absmax"] = st.absmax
        if xf_numel(x) <= 5000:
            t[name + ".deq"] = deq.reshape(-1)
        # how many codes differ from plain nearest-code rounding (the lookup table's effect)
        xf = x.reshape(-1).float()
        nb = st.absmax.numel()
        am = st.absmax.repeat_interleave(blocksize)[: xf.numel()]
        scaled = torch.where(am > 0, xf * (1.0 / am), torch.zeros_like(xf)).clamp(-1, 1)
        nearest = (scaled.unsqueeze(1) - code.unsqueeze(0)).abs().argmin(1).to(torch.uint8)
        nearest = torch.where(am > 0, nearest, torch.zeros_like(nearest))
        c = {"n": xf.numel(), "blocksize": blocksize, "dtype": str(x.dtype).replace("torch.", ""),
             "map": "signed" if code is signed else ("unsigned" if code is unsigned else "dup"), "blocks": nb, "deq_stored": xf.numel() <= 5000,
             "differs_from_nearest": int((nearest != q.reshape(-1)).sum().item())}
        if seed is not None:
            c["seed"] = seed
            c["input_checksum"] = str(checksum_f32(x))
        if extra:
            c.update(extra)
        meta["cases"][name] = c

    # 1. a large Gaussian (not stored: regenerated), blocksize 256, signed map
    g = gaussian(8, 65536)
    case("gauss64k", g, signed, 256, store_input=False, seed=8)
    # 2. small mixed: an all-zero block, a block of one value, huge and tiny scales, a partial last block
    x = gaussian(9, 1000)
    x[64:128] = 0
    x[128:192] = -3.5
    x[192:256] *= 1e-30
    x[256:320] *= 1e20
    case("mixed_b64", x, signed, 64)
    # 3. unsigned map on positive values (a second moment), partial block
    case("unsigned_b256", gaussian(10, 4196) ** 2, unsigned, 256, store_input=False, seed=10,
         extra={"input": "gaussian(10, 4196) squared in float32"})
    # 4. nested-absmax-like: positive scales minus their mean, blocksize 256, 300 values
    a = gaussian(11, 300).abs() * 0.05 + 0.01
    case("centered_b256", a - a.mean(), signed, 256)
    # 5. bfloat16 and float16 inputs, dequantized to their own dtype
    case("bf16_b128", gaussian(12, 520).to(torch.bfloat16), signed, 128)
    case("f16_b4096", gaussian(13, 5000).to(torch.float16), signed, 4096)
    # 6. values on the lookup table's bins next to midpoints: (k / 65535) * 2 - 1 for a window of bins
    bins = torch.arange(0, 65536, 7, dtype=torch.float32)
    v = -1.0 + (2.0 * bins) / 65535.0
    v[0] = 1.0  # absmax 1 in the first block
    case("lut_bins_b4096", v, signed, 4096)
    # 7. a map whose midpoints lie exactly on lookup-table bins (pairs of equal entries): bnb's table uses a strict
    #    midpoint < bin test, so a value on such a bin gets the lower of the two equal codes
    j = torch.arange(256) // 2 * 2
    dup = -1.0 + (2.0 * (257 * j).to(torch.float32)) / 65535.0
    t["map_dup"] = dup
    xs = torch.cat([torch.tensor([1.0]), dup[::2], dup[1::2].flip(0)])
    case("dupmap_b4096", xs, dup, 4096, extra={"map": "dup"})
    # 8. values whose x * (1/absmax) and x / absmax fall in different lookup bins (absmax 3): the quantizer must
    #    multiply by the float32 reciprocal, as the native kernel does
    import numpy as np
    m = np.float32(3.0)
    code = signed.numpy()
    mid = (np.float32(0.5) * (code[:-1] + code[1:])).astype(np.float32)
    bins = (np.float32(-1.0) + (np.float32(2.0) * np.arange(65536, dtype=np.float32)) / np.float32(65535)).astype(np.float32)
    lut = np.searchsorted(mid, bins, side="left")  # number of midpoints < bin value

    def lut_index(y):
        y = np.clip(y, np.float32(-1), np.float32(1))
        return ((((y + np.float32(1)) * np.float32(0.5)) * np.float32(65535)) + np.float32(0.5)).astype(np.float32).astype(np.int64)

    picks = []
    for i in np.nonzero(lut[1:] != lut[:-1])[0] + 1:  # bin i starts a new code
        y_t = np.float32((i - 0.5) / 65535.0 * 2.0 - 1.0)
        x0 = np.float32(y_t * 3.0)
        xs_ = (x0.view(np.int32) + np.arange(-300, 300, dtype=np.int32)).view(np.float32)
        xs_ = xs_[(np.abs(xs_) <= 3) & (xs_ != 0)]
        rec = (xs_ * (np.float32(1.0) / m)).astype(np.float32)
        div = (xs_ / m).astype(np.float32)
        picks.extend(xs_[lut[lut_index(rec)] != lut[lut_index(div)]].tolist())
    pick = np.array(picks[:400], dtype=np.float32)
    assert len(pick) > 10, len(pick)
    xr = torch.cat([torch.tensor([3.0]), torch.from_numpy(pick)])
    case("recip_b4096", xr, signed, 4096, extra={"codes_differ_if_divided": int(len(pick))})
    save_file(t, os.path.join(OUT, "blockwise8.safetensors"))
    with open(os.path.join(OUT, "blockwise8.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("blockwise8:", {k: v["differs_from_nearest"] for k, v in meta["cases"].items()})


def default_dequantize_4bit(packed, st):
    """dequantize_4bit on bnb's portable path: nested absmax de-nested as functional.dequantize_4bit does
    (native dequantize_blockwise, then += offset), then the default backend's eager _dequantize_4bit_compute."""
    from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
    from bitsandbytes.backends.utils import _get_4bit_code
    compute = getattr(_dequantize_4bit_compute, "__wrapped__", _dequantize_4bit_compute)
    absmax = st.absmax
    if st.nested:
        absmax = F.dequantize_blockwise(st.absmax, st.state2)
        absmax += st.offset
        if absmax.dtype != torch.float32:
            absmax = absmax.float()
    code = _get_4bit_code(st.quant_type, packed.device)
    return absmax, compute(packed.reshape(-1), absmax, code, st.blocksize, st.shape, st.dtype)


def structured():
    """One row of hand-made blocks of 64 (all cases use it with blocksize 64 unless noted)."""
    nf4 = F.get_4bit_type("nf4", device="cpu")
    fp4 = F.get_4bit_type("fp4", device="cpu")
    blocks = []
    blocks.append(torch.linspace(-1, 1, 64))  # ramp
    blocks.append(torch.full((64,), -0.3125))  # a block of one value
    mid_nf4 = (nf4[:-1] + nf4[1:]) / 2  # NF4 midpoints with absmax 1: exact ties go to the lower code
    blocks.append(torch.cat([torch.tensor([1.0]), mid_nf4, -mid_nf4, mid_nf4.flip(0), torch.zeros(64 - 46)]))
    s_fp4 = fp4.sort().values
    mid_fp4 = (s_fp4[:-1] + s_fp4[1:]) / 2
    blocks.append(torch.cat([torch.tensor([-1.0]), mid_fp4, -mid_fp4, torch.zeros(64 - 31)]))
    tiny = torch.tensor([1.0, 1e-4, -1e-4, 0.0, -0.0, 2.6e-3, -2.6e-3, 2.7e-3, -2.7e-3, 1e-7, -1e-7])
    blocks.append(torch.cat([tiny, torch.linspace(-3e-3, 3e-3, 53)]))  # FP4's nibble of -0.0 for tiny positives
    blocks.append(torch.zeros(64))  # all-zero block
    blocks.append(torch.linspace(-1e-39, 1e-39, 64))  # subnormal absmax (below the 1e-38 clamp)
    blocks.append(torch.linspace(-3e30, 1e30, 64))  # huge
    g = gaussian(30, 64)
    g[5] = 0
    g[6] = -0.0
    blocks.append(g)
    return torch.cat(blocks).to(torch.float32)


def recip_values(quant_type, m=3.0, limit=63):
    """Values x (absmax m) whose code differs between x * (1/m) and x / m: a full block must multiply by the
    reciprocal, the partial last block must divide."""
    import numpy as np
    from bitsandbytes.backends.default.ops import _get_4bit_quantize_bounds
    bounds = _get_4bit_quantize_bounds(quant_type, torch.device("cpu"))[0].numpy()
    m = np.float32(m)
    picks = []
    for t_ in bounds:
        x0 = np.float32(t_ * m)
        xs = (x0.view(np.int32) + np.arange(-4096, 4096, dtype=np.int32)).view(np.float32)
        xs = xs[np.abs(xs) < m]
        rec = (xs * (np.float32(1.0) / m)).astype(np.float32)
        div = (xs / m).astype(np.float32)
        b_rec = np.searchsorted(bounds, rec, side="left")
        b_div = np.searchsorted(bounds, div, side="left")
        picks.extend(xs[b_rec != b_div].tolist())
    assert len(picks) >= 4, (quant_type, len(picks))
    return torch.tensor([float(m)] + picks[:limit], dtype=torch.float32)


def fourbit():
    t, meta = {}, {"cases": {}, "threads": torch.get_num_threads()}
    for qt in ("nf4", "fp4"):
        t["code_" + qt] = F.get_4bit_type(qt, device="cpu")

    def case(name, x, qt, bs, cs, store_input=True, seed=None, shape=None, full=True, extra=None, key=None):
        packed, st = F.quantize_4bit(x, blocksize=bs, compress_statistics=cs, quant_type=qt)
        absmax_f32, deq = default_dequantize_4bit(packed, st)
        assert deq.dtype == x.dtype and tuple(deq.shape) == tuple(x.shape)
        c = {"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", ""), "quant_type": qt,
             "blocksize": bs, "compress_statistics": cs, "packed_shape": list(packed.shape),
             "packed_fnv1a": str(fnv1a(packed.numpy().tobytes())),
             "deq_fnv1a": str(fnv1a(deq.contiguous().view(torch.uint8).numpy().tobytes()))}
        if store_input:
            key = key or name
            t.setdefault("input." + key, x.contiguous().clone())
            c["input"] = "input." + key
        else:
            c["seed"] = seed
            c["input_checksum"] = str(checksum_f32(x.float()))
        if full:
            t[name + ".packed"] = packed.reshape(-1)
            t[name + ".deq"] = deq.reshape(-1)
        t[name + ".absmax"] = st.absmax
        if cs:
            t[name + ".absmax_f32"] = absmax_f32
            t[name + ".nested_absmax"] = st.state2.absmax
            t[name + ".nested_code"] = st.state2.code
            c["offset_bits"] = int(st.offset.view(torch.int32).item()) & 0xFFFFFFFF
            c["nested_blocksize"] = st.state2.blocksize
        if extra:
            c.update(extra)
        meta["cases"][name] = c

    gauss = gaussian(20, 48 * 80).reshape(48, 80)  # rows of 80: blocks of 64 cross rows
    for qt in ("nf4", "fp4"):
        for cs in (False, True):
            case(f"gauss_{qt}_b64_{'dq' if cs else 'plain'}", gauss, qt, 64, cs, key="gauss")
        case(f"gauss_{qt}_b128_plain", gauss, qt, 128, False, key="gauss")
    odd = gaussian(21, 7 * 37).reshape(7, 37)  # 259 elements: odd numel, partial last block
    for bs in (32, 64, 128, 256, 512, 1024, 2048, 4096):
        for qt in ("nf4", "fp4"):
            case(f"odd_{qt}_b{bs}", odd, qt, bs, bs == 64, key="odd")
    st_ = structured().reshape(-1, 64)
    for qt in ("nf4", "fp4"):
        case(f"structured_{qt}_b64", st_, qt, 64, True, key="structured")
        case(f"structured_{qt}_b32", st_, qt, 32, False, key="structured")
    for qt in ("nf4", "fp4"):
        v = recip_values(qt)
        full = torch.cat([v, torch.zeros(64 - v.numel())])
        x = torch.cat([full, full[:40]])  # one full block (multiplies) and a partial one (divides)
        case(f"recip_{qt}_b64", x, qt, 64, False, extra={"differing_values": v.numel() - 1})
    for qt in ("nf4", "fp4"):
        case(f"zeros_{qt}_b64", torch.zeros(4, 64), qt, 64, True, key="zeros")
        case(f"zeros_partial_{qt}_b64", torch.zeros(100), qt, 64, False, key="zeros_partial")  # partial all-zero block: absmax 1e-38
    for dt, nm in ((torch.bfloat16, "bf16"), (torch.float16, "f16")):
        h = gaussian(22, 40 * 72).reshape(40, 72).to(dt)
        for qt in ("nf4", "fp4"):
            case(f"{nm}_{qt}_b64_dq", h, qt, 64, True, key=nm)
        case(f"{nm}_nf4_b256_plain", h, "nf4", 256, False, key=nm)
    # double quantization over several nested blocks (640 absmax values: 3 nested blocks, the last partial)
    big = gaussian(23, 256 * 160).reshape(256, 160)
    for qt in ("nf4", "fp4"):
        case(f"big_{qt}_b64_dq", big, qt, 64, True, store_input=False, seed=23, full=False)
    # offset with torch's default thread count, for the record (readers take the stored value)
    n_thr = max(2, os.cpu_count() or 2)
    torch.set_num_threads(n_thr)
    am = torch.from_numpy(__import__("numpy").random.default_rng(0).random(262144).astype("float32"))
    m_multi = am.mean().item()
    torch.set_num_threads(1)
    m_one = am.mean().item()
    meta["offset_thread_note"] = {"n": 262144, "threads": n_thr, "mean_multi": m_multi, "mean_one": m_one}
    save_file(t, os.path.join(OUT, "fourbit.safetensors"))
    with open(os.path.join(OUT, "fourbit.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("fourbit:", len(meta["cases"]), "cases")


def gaussian_stats():
    x = gaussian(1234, 1024 * 1024).reshape(1024, 1024)
    meta = {"seed": 1234, "shape": [1024, 1024], "input_checksum": str(checksum_f32(x)), "blocksize": 64}
    for qt in ("nf4", "fp4"):
        packed, st = F.quantize_4bit(x, blocksize=64, compress_statistics=False, quant_type=qt)
        _, deq = default_dequantize_4bit(packed, st)
        meta[qt] = {"mae": (deq.double() - x.double()).abs().mean().item(),
                    "mae_f32": (deq - x).abs().mean().item(),
                    "packed_fnv1a": str(fnv1a(packed.numpy().tobytes())),
                    "absmax_checksum": str(checksum_f32(st.absmax))}
    with open(os.path.join(OUT, "gaussian_stats.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("gaussian:", meta)


def loftq():
    """PEFT 0.21.2's loftq_init on the CPU, with two patches (PEFT cannot run it on a CPU-only machine):
    - loftq_init moves the weight to "cuda" unconditionally: its source is re-executed with the compute device
      "cpu" (the only change);
    - bnb.functional.dequantize_4bit is pointed at the portable path (default_dequantize_4bit above), not the CPU
      AVX-512 kernel.
    LoraConfig(init_lora_weights="loftq") also insists that scipy is importable (unused): find_spec("scipy") is faked
    while the config is built, only to record the adapter_config.json PEFT writes."""
    import importlib.util
    import inspect
    import tempfile

    import peft.utils.loftq_utils as lu
    from peft import LoftQConfig, LoraConfig

    src = inspect.getsource(lu.loftq_init)
    assert src.count('else "cuda"') == 1
    src = src.replace('else "cuda"', 'else "cpu"')
    ns = dict(lu.__dict__)
    exec(compile(src, lu.__file__, "exec"), ns)
    cpu_loftq_init = ns["loftq_init"]
    F.dequantize_4bit = lambda A, quant_state=None, *a, **k: default_dequantize_4bit(A, quant_state)[1]

    t, meta = {}, {"cases": {}}
    w = gaussian(40, 48 * 64).reshape(48, 64) * 0.05
    t["weight"] = w
    for bits, iters, r in ((4, 1, 8), (4, 2, 8), (4, 5, 4), (8, 1, 8), (8, 2, 4)):
        q, lora_a, lora_b = cpu_loftq_init(w.clone(), num_bits=bits, reduced_rank=r, num_iter=iters)
        name = f"b{bits}_it{iters}_r{r}"
        t[name + ".q"] = q.contiguous()
        t[name + ".lora_A"] = lora_a.contiguous()
        t[name + ".lora_B"] = lora_b.contiguous()
        t[name + ".BA"] = (lora_b @ lora_a).contiguous()
        err = (w - q - lora_b @ lora_a).norm().item()
        meta["cases"][name] = {"bits": bits, "iter": iters, "r": r, "residual_fro": err,
                               "quant_only_fro": (w - q).norm().item() if iters == 1 else None}
    # bitsandbytes' int8 row-wise round trip (PEFT's 8-bit LoftQ quantizer) on rows whose codes change if the scale
    # were 127 / rowmax instead of (1 / rowmax) * 127 (torch's 127.0 / t is reciprocal(t) * 127)
    import numpy as np
    halves = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)
    rows = []
    for m in halves[(halves > 0.25) & (halves < 16)][::37]:
        if len(rows) == 4:
            break
        v = halves[(halves > 0) & (halves < m)]
        s1 = (np.float32(1.0) / m) * np.float32(127.0)
        s2 = np.float32(127.0) / m
        diff = v[np.rint((v * s1).astype(np.float32)) != np.rint((v * s2).astype(np.float32))]
        if s1 != s2 and len(diff):
            rows.append(np.concatenate([[m], diff[:63], np.zeros(max(0, 63 - len(diff)), np.float32)])[:64])
    assert rows, "no probe rows"
    probe = torch.from_numpy(np.stack(rows).astype(np.float32))
    probe[:, 1::2] *= -1
    cb, scb, _ = F.int8_vectorwise_quant(probe.to(torch.float16))
    t["int8_probe.w"] = probe
    t["int8_probe.deq"] = F.int8_vectorwise_dequant(cb, scb).float()
    meta["int8_probe_rows"] = len(rows)
    save_file(t, os.path.join(OUT, "loftq.safetensors"))

    real_find_spec = importlib.util.find_spec
    importlib.util.find_spec = lambda n, *a, **k: real_find_spec("json") if n == "scipy" else real_find_spec(n, *a, **k)
    try:
        cfg = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights="loftq",
                         loftq_config=LoftQConfig(loftq_bits=4, loftq_iter=2))
    finally:
        importlib.util.find_spec = real_find_spec
    with tempfile.TemporaryDirectory() as d:
        cfg.save_pretrained(d)
        with open(os.path.join(d, "adapter_config.json")) as f:
            meta["adapter_config"] = json.load(f)
    with open(os.path.join(OUT, "loftq.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("loftq:", meta["cases"])


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    what = sys.argv[1:] or ["blockwise8", "fourbit", "gaussian", "loftq"]
    if "blockwise8" in what:
        blockwise8()
    if "fourbit" in what:
        fourbit()
    if "gaussian" in what:
        gaussian_stats()
    if "loftq" in what:
        loftq()


if __name__ == "__main__":
    main()
