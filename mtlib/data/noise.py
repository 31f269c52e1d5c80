"""The paper's input noise on whole batches (Sec. 3; the book's Settings and their sources page,
book/settings.md): random translation with
reflect padding, horizontal flip, Gaussian input noise. Works on (B, C, H, W) float tensors on
their own device; every draw comes from the ``generator`` argument, so student and teacher,
calling :class:`Augment` separately, get independent noise.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mtlib.checks import check_int, check_number


def _draw(fn, *args, generator: torch.Generator, device, **kw) -> torch.Tensor:
    """Draw on the generator's device, then move to ``device``."""
    return fn(*args, generator=generator, device=generator.device, **kw).to(device)


def _check_batch(x):
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise ValueError("x must be a float tensor of shape (B, C, H, W); got "
                         f"{getattr(x, 'shape', type(x))}")


def shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Move image b by ``dy[b]`` rows down and ``dx[b]`` columns right, filling by reflection.

    ``out[b, :, i, j] = reflect(x)[b, :, i - dy[b], j - dx[b]]`` with |dy|, |dx| <= max_shift.
    One ``torch.gather`` along the flattened pixels of the reflect-padded batch, no loop over images.
    """
    _check_batch(x)
    k = max_shift
    b, c, h, w = x.shape
    if k >= h or k >= w:
        raise ValueError(f"max_shift={k} must be smaller than the image size {h}x{w} "
                         "(reflect padding)")
    if b == 0:
        return x
    dy = torch.as_tensor(dy, device=x.device).long().reshape(b)
    dx = torch.as_tensor(dx, device=x.device).long().reshape(b)
    if dy.abs().max() > k or dx.abs().max() > k:
        raise ValueError(f"shifts must lie in [-max_shift, max_shift] = [{-k}, {k}]")
    padded = F.pad(x, (k, k, k, k), mode="reflect").flatten(2)                # (B, C, (H+2k)(W+2k))
    rows = (k - dy)[:, None] + torch.arange(h, device=x.device)[None, :]       # (B, H)
    cols = (k - dx)[:, None] + torch.arange(w, device=x.device)[None, :]       # (B, W)
    pixel = (rows[:, :, None] * (w + 2 * k) + cols[:, None, :]).reshape(b, 1, h * w)
    return torch.gather(padded, 2, pixel.expand(b, c, h * w)).reshape(b, c, h, w)


def translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Random integer shift in [-max_shift, max_shift] per image and axis, reflect padding."""
    check_int("max_shift", max_shift, low=0)
    if max_shift == 0:
        return x
    b = x.shape[0]
    d = _draw(torch.randint, -max_shift, max_shift + 1, (2, b), generator=generator, device=x.device)
    return shift(x, d[0], d[1], max_shift)


def hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = _draw(torch.rand, x.shape[0], generator=generator, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Add N(0, sigma^2) noise to every input value (paper: sigma = 0.15)."""
    check_number("sigma", sigma, low=0)
    if sigma == 0:
        return x
    noise = _draw(torch.randn, x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + sigma * noise


class Augment:
    """Translate (px), optional horizontal flip, then Gaussian noise: ``aug(x, generator)``.

    Defaults are the SVHN ConvNet's (the book's Settings and their sources page, book/settings.md);
    CIFAR-10 adds ``flip=True``, the
    ResNet uses ``translate=4, flip=True, input_noise=0``.
    """

    def __init__(self, translate: int = 2, flip: bool = False, input_noise: float = 0.15):
        check_int("translate", translate, low=0)
        check_number("input_noise", input_noise, low=0)
        if not isinstance(flip, bool):
            raise ValueError(f"flip={flip!r} must be True or False")
        self.translate = translate
        self.flip = flip
        self.input_noise = input_noise

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = translate(x, self.translate, generator)
        if self.flip:
            x = hflip(x, generator)
        return gaussian_noise(x, self.input_noise, generator)

    def __repr__(self):
        return (f"Augment(translate={self.translate}, flip={self.flip}, "
                f"input_noise={self.input_noise})")
