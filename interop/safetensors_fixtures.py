#!/usr/bin/env python3
"""Generate the safetensors interoperability fixtures used by peft4j's Java tests.

Everything here is written by the reference Python stack (the `safetensors` library with `torch`/`numpy`, and
`huggingface_hub`'s shard splitter as transformers' `save_pretrained` uses it), so the Java reader and writer are
checked against it rather than against themselves.

Usage:
    python3 interop/safetensors_fixtures.py            # bootstraps interop/.venv-st if the packages are missing
    /path/to/venv/bin/python interop/safetensors_fixtures.py   # any interpreter that already has the packages

Output (interop/fixtures/safetensors/, committed; the Java tests only read it):
    dtypes.safetensors, dtypes.json      one tensor per dtype, a scalar, an empty tensor, __metadata__; expected
                                         bytes (hex) and values
    halffloat.safetensors                float32 inputs with torch's .to(bfloat16) / .to(float16) bit patterns, and
                                         16-bit patterns with torch's conversion to float32
    reference.safetensors                known values (the Java test rebuilds them) for byte-identity of the writer,
    reference_nometa.safetensors         with and without __metadata__
    sharded/                             a transformers-style sharded checkpoint (model-0000k-of-0000n.safetensors,
                                         model.safetensors.index.json) with its max shard size in sharded/params.json
    versions.json                        the library versions that wrote the files
"""
import os
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv-st")
OUT = os.path.join(HERE, "fixtures", "safetensors")
PACKAGES = ["safetensors", "numpy", "torch", "huggingface_hub"]


def bootstrap():
    """Re-run this script in interop/.venv-st, creating it and installing the packages from PyPI if needed."""
    if os.environ.get("PEFT4J_ST_BOOTSTRAPPED"):
        sys.exit("the packages are still missing after installing them into " + VENV)
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        print("creating", VENV, file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    subprocess.check_call([py, "-m", "pip", "install", "--quiet"] + PACKAGES)
    os.environ["PEFT4J_ST_BOOTSTRAPPED"] = "1"
    os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])


try:
    import numpy as np
    import torch
    import safetensors
    import huggingface_hub
    from safetensors.torch import save_file
    from huggingface_hub import split_torch_state_dict_into_shards
except ImportError:
    bootstrap()

import json
import math
import struct


def raw_bytes(t):
    """The tensor's little-endian bytes, as the safetensors data section holds them."""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def json_value(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    if isinstance(v, bool):
        return int(v)
    return v


def file_order(path):
    """Tensor names by ascending data_offsets, read straight from the header."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return sorted(header, key=lambda k: (header[k]["data_offsets"][0], header[k]["data_offsets"][1], k))


def u_tensor(values, np_dtype):
    return torch.from_numpy(np.array(values, dtype=np_dtype))


def dtypes_fixture():
    inf, nan = float("inf"), float("nan")
    tensors = {
        "f64": torch.tensor([0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, 0.1, inf, -inf, nan], dtype=torch.float64),
        "f32": torch.tensor([0.0, -0.0, 1.0, -3.5, 3.4028234663852886e38, 1e-45, 1.1754943508222875e-38, inf, nan],
                            dtype=torch.float32).reshape(3, 3),
        "f16": torch.tensor([0.0, 1.0, -2.0, 65504.0, 2.0 ** -24, 0.333251953125, inf, -inf],
                            dtype=torch.float16).reshape(2, 4),
        "bf16": torch.tensor([1.0, -1.0, 3.140625, 1.0e38, 2.0 ** -133, -0.0], dtype=torch.bfloat16),
        "i64": torch.tensor([0, 1, -1, 2 ** 63 - 1, -2 ** 63], dtype=torch.int64),
        "i32": torch.tensor([0, -1, 2 ** 31 - 1, -2 ** 31], dtype=torch.int32).reshape(2, 2),
        "i16": torch.tensor([-32768, 32767, 0, -2], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0, -1], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 128], dtype=torch.uint8),
        "u16": u_tensor([0, 65535, 32768], np.uint16),
        "u32": u_tensor([0, 4294967295, 2147483648], np.uint32),
        "u64": u_tensor([0, 18446744073709551615, 9223372036854775808], np.uint64),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
    }
    metadata = {"format": "pt", "purpose": "peft4j interop fixture", "unicode": "na\u00efve \u2713"}
    path = os.path.join(OUT, "dtypes.safetensors")
    save_file(tensors, path, metadata=metadata)
    expected = {"metadata": metadata, "file_order": file_order(path), "tensors": {}}
    for name, t in tensors.items():
        if t.dtype in (torch.float16, torch.bfloat16):
            values = t.float().reshape(-1).tolist()
        elif t.dtype in (torch.uint16, torch.uint32, torch.uint64):
            values = [int(v) for v in t.numpy().reshape(-1)]
        else:
            values = t.reshape(-1).tolist()
        expected["tensors"][name] = {
            "dtype": {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64",
                      torch.bool: "BOOL"}[t.dtype],
            "shape": list(t.shape),
            "hex": raw_bytes(t).hex(),
            "values": [json_value(v) for v in values],
        }
    with open(os.path.join(OUT, "dtypes.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def f32_from_bits(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def halffloat_fixture():
    rng = np.random.default_rng(20240607)
    vals = []
    # specials, limits and f16 overflow / subnormal boundaries
    vals += [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 65504.0, 65505.0, 65519.0, 65519.996, 65520.0,
             65536.0, -65520.0, 1e5, 2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 1.5 * 2.0 ** -24,
             2.5 * 2.0 ** -24, 2.0 ** -14 - 2.0 ** -25, 2.0 ** -14 - 2.0 ** -24, 1.0 / 3.0, -1.0 / 3.0, 0.1,
             3.4028234663852886e38, 1e-45, 1.1754943508222875e-38, 1.0, -1.0]
    special_bits = [0x7F800001, 0x7FC00000, 0xFFC00001, 0x7FBFFFFF, 0xFF800001, 0x7F7F8000, 0x7F7FFFFF, 0x7F7F7FFF,
                    0x33000000, 0x33000001, 0x32FFFFFF, 0x38800000, 0x387FFFFF, 0x477FEFFF, 0x477FF000, 0x477FE000,
                    0x00008000, 0x00018000, 0x80008000, 0x00000001, 0x807FFFFF]
    bits = [int(b) for b in f32_from_bits(special_bits).view(np.uint32)]
    # bfloat16 ties and near-ties at random exponents (low 16 bits 0x8000, 0x7FFF, 0x8001)
    hi = rng.integers(0, 0x10000, size=400, dtype=np.uint32)
    for low in (0x8000, 0x7FFF, 0x8001):
        bits += [int((h << 16) | low) for h in hi]
    # float16 ties and near-ties in the normal half range (exponent 113..142, low 13 bits 0x1000, 0x0FFF, 0x1001)
    sign = rng.integers(0, 2, size=400, dtype=np.uint32) << 31
    exp = rng.integers(113, 143, size=400, dtype=np.uint32) << 23
    mant_hi = rng.integers(0, 1 << 10, size=400, dtype=np.uint32) << 13
    for low in (0x1000, 0x0FFF, 0x1001):
        bits += [int(s | e | m | low) for s, e, m in zip(sign, exp, mant_hi)]
    # float16 subnormal ties: odd multiples of 2^-25 (exact in float32)
    vals += [k * 2.0 ** -25 for k in range(1, 2050, 2)]
    # random bit patterns (all exponents, NaNs included) and random normal values at several scales
    bits += [int(b) for b in rng.integers(0, 1 << 32, size=1500, dtype=np.uint64)]
    for scale in (1e-6, 1e-3, 1.0, 1e3, 6e4):
        vals += [float(v) for v in rng.standard_normal(200) * scale]

    f32 = np.concatenate([np.array(vals, dtype=np.float32), f32_from_bits(bits)])
    x = torch.from_numpy(f32.copy())
    # 16-bit patterns to decode: every 16th pattern with a varying low nibble, plus the low and high ends
    pats = sorted(set([i * 16 + (i % 16) for i in range(4096)] + list(range(0, 64)) + list(range(0x7BF0, 0x7C10))
                      + list(range(0xFC00 - 8, 0xFC08)) + list(range(0x7F70, 0x7F90)) + list(range(0xFF70, 0xFF90))))
    pats16 = torch.from_numpy(np.array(pats, dtype=np.uint16).view(np.int16).copy())
    tensors = {
        "f32": x,
        "bf16_bits": x.to(torch.bfloat16).view(torch.int16),
        "f16_bits": x.to(torch.float16).view(torch.int16),
        "decode_bits": pats16,
        "f16_decoded": pats16.view(torch.float16).to(torch.float32),
        "bf16_decoded": pats16.view(torch.bfloat16).to(torch.float32),
    }
    save_file(tensors, os.path.join(OUT, "halffloat.safetensors"), metadata={"torch": torch.__version__})


def reference_tensors():
    """Known values; ReferenceTensors.java in the tests builds the identical map."""
    t = {
        "weight": torch.tensor([[-1.0, -0.5, 0.0], [0.5, 1.0, 1.5]], dtype=torch.float32),
        "bias": torch.tensor([0.5, -2.0, 3.25], dtype=torch.float16),
        "scale": torch.tensor(0.75, dtype=torch.bfloat16),
        "ids": torch.tensor([0, 1, -1, 1 << 40], dtype=torch.int64),
        "mask": torch.tensor([True, False, True, True, False], dtype=torch.bool),
        "empty": torch.zeros((0, 3), dtype=torch.float32),
        "f64": torch.tensor([0.1, -1e300], dtype=torch.float64),
        "i32": torch.tensor([-7, 0, 123456], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-5, 5], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "u16": u_tensor([0, 65535], np.uint16),
        "u32": u_tensor([4000000000], np.uint32),
        "u64": u_tensor([18446744073709551615], np.uint64),
    }
    # names that exercise ordering (code point / UTF-8 byte order, not UTF-16) and JSON escaping
    odd_names = ["a.weight", "B", "b", "\u00e9", "\ue000", "\U0001F600", "quote\"back\\slash", "ctl\n\t\u0001\u007f",
                 "</script>&'=", "z/y.z"]
    for i, name in enumerate(odd_names):
        t[name] = torch.tensor([float(i)], dtype=torch.float32)
    return t


def reference_fixture():
    tensors = reference_tensors()
    # one metadata entry: the library writes several in hash order, which changes from process to process
    save_file(tensors, os.path.join(OUT, "reference.safetensors"), metadata={"format": "pt"})
    save_file(tensors, os.path.join(OUT, "reference_nometa.safetensors"))


def sharded_tensors():
    """Known values in state-dict order; ShardedSafeTensorsTest builds the identical map."""
    def ramp(shape, start):
        n = math.prod(shape)
        return (torch.arange(n, dtype=torch.float32) * 0.25 + start).reshape(shape)
    return {
        "model.embed_tokens.weight": ramp((8, 4), 0.0),
        "model.layers.0.self_attn.q_proj.weight": ramp((4, 4), 100.0),
        "model.layers.0.self_attn.k_proj.weight": ramp((4, 4), 200.0),
        "model.layers.0.mlp.down_proj.weight": ramp((4, 8), 300.0).to(torch.bfloat16),
        "model.norm.weight": torch.ones(4, dtype=torch.float32),
        "lm_head.weight": ramp((8, 4), 400.0),
    }


def sharded_fixture():
    d = os.path.join(OUT, "sharded")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    max_shard_size = 100
    state_dict = sharded_tensors()
    # what transformers' save_pretrained does for safetensors
    split = split_torch_state_dict_into_shards(state_dict, filename_pattern="model{suffix}.safetensors",
                                               max_shard_size=max_shard_size)
    for filename, names in split.filename_to_tensors.items():
        save_file({n: state_dict[n].contiguous() for n in names}, os.path.join(d, filename),
                  metadata={"format": "pt"})
    assert split.is_sharded
    index = {"metadata": {"total_size": split.metadata["total_size"]}, "weight_map": split.tensor_to_filename}
    with open(os.path.join(d, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump({"max_shard_size": max_shard_size, "order": list(state_dict)}, f, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    dtypes_fixture()
    halffloat_fixture()
    reference_fixture()
    sharded_fixture()
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump({"python": sys.version.split()[0], "safetensors": safetensors.__version__,
                   "torch": torch.__version__, "numpy": np.__version__,
                   "huggingface_hub": huggingface_hub.__version__}, f, indent=1, sort_keys=True)
        f.write("\n")
    total = 0
    for root, _, files in os.walk(OUT):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    print("wrote", OUT, total, "bytes")


if __name__ == "__main__":
    main()
