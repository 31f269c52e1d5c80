"""Ramp-up and ramp-down schedules (paper Sec. 3, Appendix B; authors' code ``ramps.py``).

Each function maps a step count to a factor in [0, 1]; multiply the learning rate, the
consistency weight or Adam's beta1 by it. Leaf module: imports nothing of mtlib.
"""
import math


def _phase(current, length):
    """Progress ``current / length`` clipped to [0, 1]; a zero-length ramp is already done."""
    if length < 0:
        raise ValueError(f"ramp length={length} must be >= 0")
    if length == 0:
        return 1.0
    return min(max(float(current) / length, 0.0), 1.0)


def sigmoid_rampup(current, rampup_length):
    """exp(-5 (1 - t)^2), t = current / rampup_length clipped to [0, 1] (Laine & Aila; paper App. B)."""
    t = _phase(current, rampup_length)
    return math.exp(-5.0 * (1.0 - t) ** 2)


def sigmoid_rampdown(current, rampdown_length, total):
    """exp(-12.5 p^2), p rising from 0 to 1 over the last ``rampdown_length`` of ``total`` steps."""
    if rampdown_length <= 0:
        return 1.0
    p = _phase(current - (total - rampdown_length), rampdown_length)
    return math.exp(-12.5 * p ** 2)


def linear_rampup(current, rampup_length):
    """t = current / rampup_length clipped to [0, 1] (authors' PyTorch code, lr warm-up)."""
    return _phase(current, rampup_length)


def cosine_rampdown(current, rampdown_length):
    """0.5 (cos(pi t) + 1), t = current / rampdown_length (authors' PyTorch code, ResNet runs)."""
    t = _phase(current, rampdown_length)
    return 0.5 * (math.cos(math.pi * t) + 1.0)
