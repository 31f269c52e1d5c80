"""What the hyperparameters are at step t: lr, Adam betas, consistency weight, EMA decay (paper App. B).

Adam (ConvNet runs): lr = max_lr * rampup * rampdown with the sigmoid ramps, beta1 ramped down
from 0.9 to 0.5 with the lr, beta2 = 0.99 during ramp-up and 0.999 after.
SGD with Nesterov momentum (ResNet runs, authors' PyTorch code): lr = max_lr * linear warm-up
(``lr_warmup_steps``) * cosine ramp-down sized for ``cosine_steps`` (the code: 350 epochs, stopped at 300).
"""
import torch

from mtlib.training import ramps

EMA_SCHEDULES = ("constant", "rampup_switch", "warm_start")
LR_SCHEDULES = ("sigmoid", "cosine")
OPTIMIZERS = ("adam", "sgd")


def make_optimizer(params, cfg):
    """Adam (ConvNet) or SGD with Nesterov momentum (ResNet); fused kernels on CUDA, multi-tensor
    (foreach) ones elsewhere: one call per step instead of one per parameter (the same numbers)."""
    cuda = cfg.device.startswith("cuda")
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2_rampup),
                                weight_decay=cfg.weight_decay, fused=cuda, foreach=None if cuda else True)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.nesterov_momentum, nesterov=True,
                               weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer={cfg.optimizer!r} is unknown; choose 'adam' or 'sgd'")


def schedule(cfg, step):
    """The hyperparameters in force at ``step``: dict with lr (and betas for Adam)."""
    if cfg.lr_schedule == "cosine":
        warmup = cfg.rampup_steps if cfg.lr_warmup_steps is None else cfg.lr_warmup_steps
        lr = cfg.lr * ramps.linear_rampup(step, warmup) * ramps.cosine_rampdown(step, cfg.cosine_steps or cfg.steps)
        return {"lr": lr}
    up = ramps.sigmoid_rampup(step, cfg.rampup_steps)
    down = ramps.sigmoid_rampdown(step, cfg.rampdown_steps, cfg.steps)
    out = {"lr": cfg.lr * up * down}
    if cfg.optimizer == "adam":
        beta1 = down * cfg.adam_beta1 + (1.0 - down) * cfg.adam_beta1_rampdown
        beta2 = cfg.adam_beta2_rampup if step < cfg.rampup_steps else cfg.adam_beta2
        out["betas"] = (beta1, beta2)
    return out


def apply_schedule(optimizer, cfg, step):
    """Set the step's hyperparameters on every parameter group; return them."""
    values = schedule(cfg, step)
    for group in optimizer.param_groups:
        group.update(values)
    return values


def consistency_weight(cfg, step):
    """w(t) = w_max * exp(-5 (1 - t)^2) over the ramp-up (paper Sec. 3: ramped up from 0)."""
    return cfg.consistency_weight * ramps.sigmoid_rampup(step, cfg.rampup_steps)


def ema_decay(step, schedule="constant", alpha=0.999, rampup_steps=0, alpha_rampup=0.99):
    """The decay to use after training step ``step`` (0-based).

    - ``constant``: alpha throughout (the paper's CIFAR-10 final runs, 0.999).
    - ``rampup_switch``: ``alpha_rampup`` (0.99) while step < rampup_steps, then alpha (0.999)
      (the paper's SVHN evaluation runs, Sec. 3.4; the authors' TensorFlow code).
    - ``warm_start``: min(1 - 1/(t + 1), alpha) with t = step + 1, the authors' PyTorch code, which
      counts the step before computing it: the first decay is 0.5, and early averages are close
      to true means of the student's weights.
    """
    if schedule == "constant":
        return alpha
    if schedule == "rampup_switch":
        return alpha_rampup if step < rampup_steps else alpha
    if schedule == "warm_start":
        return min(1.0 - 1.0 / (step + 2), alpha)
    raise ValueError(f"ema_schedule={schedule!r} is unknown; choose one of {EMA_SCHEDULES}")
