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


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    what = sys.argv[1:] or ["blockwise8"]
    if "blockwise8" in what:
        blockwise8()


if __name__ == "__main__":
    main()
