"""The EMA teacher: theta'_t = alpha theta'_{t-1} + (1 - alpha) theta_t (paper Sec. 2, eq. for theta').

The average runs over parameters AND floating-point buffers. Batch-norm running means and
variances are buffers: averaging only the parameters would leave the teacher normalising its
activations with stale statistics from initialisation, so its predictions would be wrong even
with perfectly averaged weights (a known trap of the reference code). Integer buffers
(``num_batches_tracked``) are copied. The teacher never receives gradients. Leaf module.
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


@torch.no_grad()
def ema_update(teacher, student, alpha):
    """In place: every teacher parameter and float buffer becomes alpha * teacher + (1 - alpha) * student."""
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(alpha).add_(s.detach(), alpha=1.0 - alpha)
    for t, s in zip(teacher.buffers(), student.buffers()):
        if t.dtype.is_floating_point:
            t.mul_(alpha).add_(s, alpha=1.0 - alpha)
        else:
            t.copy_(s)
