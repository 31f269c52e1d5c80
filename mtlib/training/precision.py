"""Numeric precision of a run: how it is computed, not what (so not part of a results file's identity).

``precision="auto"`` (the default) uses bfloat16 autocast of the forward passes where the device
computes bf16 natively (a CUDA GPU that supports it; a CPU with AVX512_BF16 or AMX) and float32
elsewhere. Asking for ``"bf16"`` on a CPU without native bf16 works, but warns once: there
bf16 is emulated and was measured 5.3x slower than float32 at the book's CPU scale (README "Speed").
The two precisions give the same results within run-to-run noise (the introduction's paired
comparison), not bit for bit.
"""
import os
import warnings

import torch

from mtlib.machine import cpu_capability, cpu_has_native_bf16

PRECISIONS = ("auto", "fp32", "bf16")
# what precision="auto" resolves to on a CPU can be forced (the test suite checks both ways on one
# machine: MTLIB_AUTO_PRECISION=fp32 as an AVX2 CPU resolves it, =bf16 as an AVX-512 BF16 one)
AUTO_ENV = "MTLIB_AUTO_PRECISION"


def native_bf16(device):
    """True when ``device`` computes bf16 natively."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


_WARNED = set()


def resolve_precision(precision, device):
    """'fp32' or 'bf16' for a RunConfig's ``precision`` on ``device``; warns once per device type
    when bf16 is asked for where it is emulated."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not allowed; choose one of {list(PRECISIONS)}")
    native = native_bf16(device)
    if precision == "auto":
        forced = os.environ.get(AUTO_ENV)
        if forced and torch.device(device).type == "cpu":
            if forced not in ("fp32", "bf16"):
                raise ValueError(f"{AUTO_ENV}={forced!r} is not allowed; choose fp32 or bf16 (or unset it)")
            return forced
        return "bf16" if native else "fp32"
    if precision == "bf16" and not native and torch.device(device).type not in _WARNED:
        _WARNED.add(torch.device(device).type)
        warnings.warn(f"precision='bf16' on {torch.device(device).type} without native bfloat16 "
                      f"({cpu_capability()}): it is emulated, measured about 5x slower than float32 at "
                      "the book's CPU scale; precision='auto' picks float32 here", stacklevel=2)
    return precision
