"""What this machine's CPU computes natively: its vector capability and whether it has bfloat16.

Read by the precision rule (``mtlib.training.precision``: ``precision="auto"``) and recorded in every
results file's provenance (``mtlib.results``), because float results are bit-exact only on the same
capability, precision and thread count. Leaf module.
"""
import functools
from pathlib import Path

import torch


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16():
    """True when this CPU computes bf16 natively (AVX512_BF16 or AMX tiles)."""
    cpu = getattr(torch._C, "_cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        if cpu is not None and hasattr(cpu, probe) and getattr(cpu, probe)():
            return True
    try:   # fallback for builds without the probes: the kernel's CPU flags
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_capability():
    """The CPU's vector capability as torch reports it (e.g. 'AVX2', 'AVX512'), plus ' +bf16' when native."""
    return torch.backends.cpu.get_cpu_capability() + (" +bf16" if cpu_has_native_bf16() else "")
