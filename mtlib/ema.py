"""The EMA teacher: theta'_t = alpha theta'_{t-1} + (1 - alpha) theta_t (paper Sec. 2, eq. for theta').

The average runs over parameters AND floating-point buffers. Batch-norm running means and
variances are buffers: averaging only the parameters would leave the teacher normalising its
activations with stale statistics from initialisation, so its predictions would be wrong even
with perfectly averaged weights (a known trap of the reference code). Integer buffers
(``num_batches_tracked``) are copied. The teacher never receives gradients. Leaf module.
"""
import copy

import torch

EMA_SCHEDULES = ("constant", "rampup_switch", "warm_start")


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


def ema_decay(step, schedule="constant", alpha=0.999, rampup_steps=0, alpha_rampup=0.99):
    """The decay to use after training step ``step`` (0-based).

    - ``constant``: alpha throughout (the paper's CIFAR-10 final runs, 0.999).
    - ``rampup_switch``: ``alpha_rampup`` (0.99) while step < rampup_steps, then alpha (0.999)
      (the paper's SVHN evaluation runs, Sec. 3.4; the authors' TensorFlow code).
    - ``warm_start``: min(1 - 1/(step + 1), alpha) (the authors' PyTorch code), so the first
      teacher is a copy of the student and early averages are true means.
    """
    if schedule == "constant":
        return alpha
    if schedule == "rampup_switch":
        return alpha_rampup if step < rampup_steps else alpha
    if schedule == "warm_start":
        return min(1.0 - 1.0 / (step + 1), alpha)
    raise ValueError(f"ema_schedule={schedule!r} is unknown; choose one of {EMA_SCHEDULES}")
