"""Two measurements that set VAT's ε grid and ξ at the CPU scale (no training beyond a short warm-up).

* :func:`image_norms`: the per-image L2 norm of the normalised training images. ε is a norm in those
  units, so vat_tf's ε = 8 on fully ZCA-whitened 32x32 CIFAR-10 (RMS norm √3072 ≈ 55.4) is a
  perturbation of 8 / 55.4 ≈ 14 % of an image; :func:`equivalent_epsilon` gives the same share here.
* :func:`probe_cosines`: how well the float32 power iteration at probe length ξ finds the direction
  it is meant to, H d (H the Hessian of the KL at r = 0, d the same random unit direction), computed
  in float64 by double backpropagation. Below float32's rounding of the logits the gradient at ξ d is
  mostly rounding noise; far above it the KL is no longer quadratic in r.
"""
import math

import torch

from mtlib.data import load_data
from mtlib.models import build_model, frozen_statistics, split_heads
from mtlib.training.adversarial import kl_to_target, unit_per_image, virtual_adversarial_perturbation

# vat_tf's CIFAR-10 setting (book/settings.md, "Virtual adversarial training"): ε on images whitened
# to unit variance per dimension, 3 x 32 x 32 dimensions
VAT_TF_EPSILON, VAT_TF_NORM = 8.0, math.sqrt(3 * 32 * 32)


def image_norms(cfg, n=None):
    """The per-image L2 norms of ``cfg``'s normalised training images (the first ``n``; None: all)."""
    x = load_data(cfg).train_x
    x = x if n is None else x[:n]
    return x.flatten(1).norm(dim=1)


def equivalent_epsilon(norm):
    """The ε that is the same share of an image of L2 norm ``norm`` as vat_tf's 8 is of 55.4."""
    return VAT_TF_EPSILON * norm / VAT_TF_NORM


def _kl_of(model, x, target):
    return lambda r: kl_to_target(split_heads(model(x + r))[1], target).sum()


def hessian_direction(model, x, d):
    """H d per image in float64: the gradient in r of (grad_r KL(p(x) || p(x + r)) . d) at r = 0, the
    clean prediction a constant; training mode with frozen statistics (as the adversarial passes)."""
    model64 = model.double()
    x64, d64 = x.double(), d.double()
    with frozen_statistics(model64), torch.enable_grad():
        target = split_heads(model64(x64))[1].detach()
        r = torch.zeros_like(x64, requires_grad=True)
        g, = torch.autograd.grad(_kl_of(model64, x64, target)(r), [r], create_graph=True)
        hd, = torch.autograd.grad((g * d64).sum(), [r])
    model.float()
    return hd


def probe_cosines(model, x, xis, seed=0):
    """{ξ: per-image cosine between mtlib's float32 r_adv at probe length ξ and the float64 H d}, the
    same d for every ξ (the generator restarted at ``seed``); the model in training mode, statistics
    frozen. Also {"float64, ξ": ...}: the same iteration in float64, which isolates the curvature
    error of a large ξ from float32's rounding."""
    model.train()
    d = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    hd = hessian_direction(model, x, unit_per_image(d))
    cos = lambda v: torch.nn.functional.cosine_similarity(v.flatten(1).double(), hd.flatten(1), dim=1)
    out = {}
    with frozen_statistics(model), torch.no_grad():
        target = split_heads(model(x))[1]
    forward = lambda v: split_heads(model(v))[1]
    divergence = lambda logits, t: kl_to_target(logits, t).sum()
    with frozen_statistics(model):
        for xi in xis:      # mtlib's own iteration, its d drawn from the same seed as d above
            out[xi] = cos(virtual_adversarial_perturbation(forward, x, target, divergence, 1.0, xi,
                                                           torch.Generator().manual_seed(seed)))
    model64, x64, d64 = model.double(), x.double(), unit_per_image(d.double())
    with frozen_statistics(model64), torch.enable_grad():
        target64 = split_heads(model64(x64))[1].detach()
        for xi in xis:
            r = (xi * d64).requires_grad_()
            g, = torch.autograd.grad(_kl_of(model64, x64, target64)(r), [r])
            out[f"float64, {xi:g}"] = cos(g)
    model.float()
    return out


def probe_model(cfg, warmup_steps=0):
    """(network, a batch of training images) of ``cfg`` (dropout off: H d is then one function of r):
    at initialisation, or after ``warmup_steps`` steps of mtlib's Trainer with ``cfg``."""
    from mtlib.training.trainer import Trainer

    cfg = cfg.replace(dropout=0.0, steps=max(warmup_steps, 1), rampup_steps=0, rampdown_steps=0, eval_every=0)
    data = load_data(cfg)
    trainer = Trainer(cfg, data)
    for _ in range(warmup_steps):
        trainer.train_step()
    return trainer.student, data.train_x[:cfg.batch_size].clone()
