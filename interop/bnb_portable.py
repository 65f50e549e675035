"""Force bitsandbytes' portable (pure torch) code path on the CPU. Import this module BEFORE bitsandbytes.

bitsandbytes registers its fast CPU kernels (backends/cpu/ops.py) only when its native library loads; those kernels
are not the reference (absmax looked up per row for rows that are not a multiple of the blocksize; a bf16 path on
AVX512-BF16 CPUs). This import hook replaces ``bitsandbytes.cextension.lib`` by bnb's own
``ErrorHandlerMockBNBNativeLibrary`` right after that module executes, before the backends are imported, so every
4-bit op runs on the "default" backend. ``assert_portable()`` checks that no CPU kernel got registered.
"""

import importlib.abc
import importlib.util
import sys


class _PortableBnb(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name != "bitsandbytes.cextension":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        self._orig = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self._orig.exec_module(module)
        module.lib = module.ErrorHandlerMockBNBNativeLibrary("peft4j fixtures: portable path forced")


if "bitsandbytes" in sys.modules:
    raise RuntimeError("import bnb_portable before bitsandbytes")
sys.meta_path.insert(0, _PortableBnb())


def assert_portable():
    import bitsandbytes as bnb
    import torch
    from bitsandbytes.cextension import ErrorHandlerMockBNBNativeLibrary, lib
    assert isinstance(lib, ErrorHandlerMockBNBNativeLibrary), "portable path not forced"
    assert not bnb.functional.has_avx512bf16()
    for op in ["quantize_4bit", "dequantize_4bit", "gemv_4bit", "quantize_blockwise", "dequantize_blockwise"]:
        dump = torch._C._dispatch_dump(f"bitsandbytes::{op}")
        assert "\nCPU:" not in dump, (op, dump)
