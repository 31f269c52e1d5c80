"""The EMA teacher: theta'_t = alpha theta'_{t-1} + (1 - alpha) theta_t (paper Sec. 2, eq. for theta').

Batch-norm running means and variances are buffers, not parameters. An EMA model that never runs
a forward pass of its own (the EMA weights the trainer keeps for supervised-only, Pi and TE) must
average them too (``buffers=True``): otherwise it normalises with the statistics of its
initialisation and its predictions are wrong even with perfectly averaged weights (a known trap).
Mean Teacher's teacher runs training-mode forward passes every step, so, as in the authors' code
(neither codebase averages buffers), it keeps the running statistics of its own passes
(``buffers=False``). Integer buffers (``num_batches_tracked``) are copied. One fused multi-tensor
operation per group (``torch._foreach_*``). The teacher never receives gradients. Leaf module.
"""
import copy

import torch

def check_decay(alpha, name="ema_decay"):
    """Raise ValueError unless 0 <= alpha < 1."""
    if not (isinstance(alpha, (int, float)) and 0.0 <= float(alpha) < 1.0):
        raise ValueError(f"{name}={alpha!r} is outside [0, 1); the EMA decay alpha must satisfy 0 <= alpha < 1")


def make_teacher(student):
    """A deep copy of ``student`` whose parameters never require gradients."""
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


class EMAUpdate:
    """``update(alpha)``: every teacher parameter (and, with ``buffers``, float buffer) becomes
    alpha * teacher + (1 - alpha) * student (Sec. 2); integer buffers are copied. The tensor lists
    are collected once (the trainer calls this every step; in-place loads keep the same tensors)."""

    def __init__(self, teacher, student, buffers=True):
        pairs = list(zip(teacher.parameters(), student.parameters()))
        if buffers:
            pairs += [(t, s) for t, s in zip(teacher.buffers(), student.buffers()) if t.dtype.is_floating_point]
        self.targets, self.sources = [t for t, _ in pairs], [s.detach() for _, s in pairs]
        self.copies = [(t, s) for t, s in zip(teacher.buffers(), student.buffers()) if not t.dtype.is_floating_point]

    @torch.no_grad()
    def update(self, alpha):
        for t, s in self.copies:
            t.copy_(s)
        if self.targets:
            torch._foreach_mul_(self.targets, alpha)
            torch._foreach_add_(self.targets, self.sources, alpha=1.0 - alpha)


def ema_update(teacher, student, alpha, buffers=True):
    """One EMA step of ``teacher`` towards ``student`` (see :class:`EMAUpdate`)."""
    EMAUpdate(teacher, student, buffers).update(alpha)
