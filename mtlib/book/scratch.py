"""Mean Teacher from scratch, checked against mtlib (the Mean Teacher chapter's first section).

The chapter writes the whole method as one training loop of plain PyTorch. This module gives it a
small problem (:data:`SCRATCH`: a few hundred of the CPU scale's images, Gaussian input noise only,
no ramp-down), runs mtlib's own :class:`~mtlib.training.trainer.Trainer` for the same steps on the
same data, model and seeds (:func:`mtlib_steps`), and measures how far apart the two are
(:func:`differences`): the per-step costs, the student's and the teacher's weights.
"""
import torch

from mtlib.config import RunConfig
from mtlib.models import build_model
from mtlib.scales import CPU_SCALE
from mtlib.training.trainer import Trainer

# The small problem: CPU_SCALE with these changes. Masked random batches over the whole set and the
# consistency cost on every image (the authors' CIFAR-10 scripts); only Gaussian input noise
# (no translation or flip), so the loop's noise is one line; a 50-step ramp-up and no ramp-down,
# with Adam's betas constant (0.9, 0.99); float32 in the usual memory format, so both runs compute
# alike.
SCRATCH = dict(max_train=400, n_labels=40, batch_size=50, labeled_per_batch=None, translate=0, flip=False,
               input_noise=0.15, consistency_on="all", consistency_weight=3.0, ema_decay=0.99,
               rampup_steps=50, rampdown_steps=0, adam_beta1=0.9, adam_beta2_rampup=0.99, adam_beta2=0.99,
               steps=100, eval_every=0, max_test=1000, channels_last=False, precision="fp32")

# what the loop logs at every step, and the name of the same number in mtlib's step statistics
LOGGED = {"weight": "weight", "classification": "class_cost", "consistency": "consistency_cost", "loss": "loss"}


def scratch_config(**changes):
    """The RunConfig of the small problem (CPU_SCALE, then :data:`SCRATCH`, then ``changes``)."""
    return RunConfig(**{**CPU_SCALE, **SCRATCH, **changes})


def loop_arguments(cfg):
    """The from-scratch loop's keyword arguments that say what ``cfg`` says."""
    return dict(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, w_max=cfg.consistency_weight,
                rampup=cfg.rampup_steps, alpha=cfg.ema_decay, sigma=cfg.input_noise, seed=cfg.seed)


def check_comparable(cfg, n_images):
    """Raise ValueError unless the loop and mtlib's trainer compute the same thing for ``cfg``."""
    wanted = {k: v for k, v in SCRATCH.items() if k not in {
        "max_train", "n_labels", "batch_size", "input_noise", "consistency_weight", "ema_decay",
        "rampup_steps", "steps", "eval_every", "max_test"}}
    changed = {k: getattr(cfg, k) for k, v in wanted.items() if getattr(cfg, k) != v}
    if cfg.method != "mean_teacher" or cfg.ema_schedule != "constant" or changed:
        raise ValueError(f"the loop has no ramp-down, schedule switch or other noise; these differ: {changed}")
    if n_images % cfg.batch_size:
        raise ValueError(f"{n_images} images are not a whole number of batches of {cfg.batch_size}")


def mtlib_steps(cfg, data, steps=None):
    """Run mtlib's Trainer for ``steps`` (default ``cfg.steps``) steps; return (student, teacher, log)
    with the loop's log format: one dict per step of the numbers in :data:`LOGGED`."""
    trainer = Trainer(cfg, data)
    log = []
    for t in range(cfg.steps if steps is None else steps):
        stats = trainer.train_step()
        log.append({"step": t, **{k: float(stats[m]) for k, m in LOGGED.items()}})
    return trainer.student, trainer.ema, log


def _max_abs(a, b):
    return max(float((x.detach() - y.detach()).abs().max()) for x, y in zip(a, b))


def differences(scratch, mtlib):
    """Largest absolute difference between two runs, each (student, teacher, log): over the steps'
    logged numbers, the student's weights, the teacher's weights and its float buffers (batch-norm
    running statistics)."""
    (s1, t1, log1), (s2, t2, log2) = scratch, mtlib
    if len(log1) != len(log2):
        raise ValueError(f"the runs have {len(log1)} and {len(log2)} steps")
    out = {k: max(abs(a[k] - b[k]) for a, b in zip(log1, log2)) for k in LOGGED}
    out["student weights"] = _max_abs(s1.parameters(), s2.parameters())
    out["teacher weights"] = _max_abs(t1.parameters(), t2.parameters())
    buffers = [(a, b) for a, b in zip(t1.buffers(), t2.buffers()) if a.dtype.is_floating_point]
    out["teacher running statistics"] = _max_abs(*zip(*buffers)) if buffers else 0.0
    return out


def same_run(diffs, tol=1e-4):
    """True when every difference of :func:`differences` is below ``tol``."""
    return all(v < tol for v in diffs.values())


def weights_scale(model):
    """The largest absolute weight of ``model`` (what a difference of weights is small against)."""
    return max(float(p.detach().abs().max()) for p in model.parameters())


def model_for(cfg, data):
    """The student network mtlib's Trainer would build for ``cfg``, from the same seed. Also sets
    torch's thread count to ``cfg.threads``, as the Trainer does: with another thread count the sums
    inside a convolution run in another order, and 100 Adam steps grow that rounding into visible
    differences."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    return build_model(cfg, num_classes=data.num_classes)
