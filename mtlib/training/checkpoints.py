"""Checkpoints: everything needed to resume a run bit-for-bit on the same machine.

Saved: student, EMA model, optimiser, method state (e.g. Temporal Ensembling's ensemble), the
batch sampler, the noise generator, torch's global RNG (dropout draws from it), the history and
the running averages. Written atomically; loaded with ``weights_only=True``.
"""
import os
from pathlib import Path

import torch


def save_checkpoint(path, state):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=True)
