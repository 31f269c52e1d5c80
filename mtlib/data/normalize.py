"""Input normalisation (the book's Settings and their sources page, book/settings.md): SVHN
per-image standardisation; CIFAR-10 global contrast normalisation (scale 55) then ZCA whitening
(filter bias 0.1), fitted on training images.

Every normaliser maps uint8 (N, C, H, W) images to float32 of the same shape.
"""
from __future__ import annotations

from typing import Callable

import torch

NORMALIZATIONS = ("zca", "per_image", "meanstd", "none")


def _as_float(x) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W); got {tuple(x.shape)}")
    return x.float()


def per_image_standardize(x) -> torch.Tensor:
    """Each image to zero mean and unit variance over its C*H*W values (population std,
    floored at 1/sqrt(C*H*W) as in TensorFlow's ``per_image_standardization``)."""
    x = _as_float(x)
    flat = x.flatten(1)
    mean = flat.mean(1, keepdim=True)
    std = flat.std(1, unbiased=False, keepdim=True).clamp_min(flat.shape[1] ** -0.5)
    return ((flat - mean) / std).view_as(x)


def global_contrast_normalize(x, scale: float = 55.0) -> torch.Tensor:
    """Subtract each image's mean, then scale its L2 norm to ``scale`` (flattened, float)."""
    flat = _as_float(x).flatten(1)
    flat = flat - flat.mean(1, keepdim=True)
    norm = flat.norm(dim=1, keepdim=True).clamp_min(1e-10)
    return flat * (scale / norm)


def _eigh(a: torch.Tensor):
    """``torch.linalg.eigh`` on one thread: MKL's threaded eigh slows down 10-300x when the
    cores are shared (measured: 3072 x 3072, 2 busy cores, 90 s threaded vs 13 s on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(a)
    finally:
        torch.set_num_threads(threads)


class ZCA:
    """GCN (scale 55) + ZCA whitening ``W = U diag(1 / sqrt(S + bias)) U^T`` (bias 0.1).

    ``fit`` accumulates the covariance of the GCN'd, mean-subtracted training vectors in float64
    over chunks (50k x 3072 fits in memory); with fewer images than dimensions it works on the
    n x n Gram matrix instead. ``transform`` applies ``(gcn(x) - mean) @ W`` in chunks.
    """

    def __init__(self, bias: float = 0.1, scale: float = 55.0, chunk: int = 2500):
        if not bias > 0:
            raise ValueError(f"bias={bias!r} must be > 0")
        self.bias, self.scale, self.chunk = float(bias), float(scale), int(chunk)
        self.mean = None
        self.matrix = None
        self.eigenvalues = None
        self.shape = None

    def fit(self, x) -> "ZCA":
        x = torch.as_tensor(x)
        if x.dim() != 4 or x.shape[0] < 2:
            raise ValueError(f"ZCA.fit needs (N >= 2, C, H, W) images; got {tuple(x.shape)}")
        n, d = x.shape[0], x[0].numel()
        total = torch.zeros(d, dtype=torch.float64)
        for s in range(0, n, self.chunk):
            total += global_contrast_normalize(x[s:s + self.chunk], self.scale).double().sum(0)
        mean = total / n
        if n < d:
            # Fewer images than dimensions: eigendecompose the n x n Gram matrix instead (LAPACK's
            # eigh on a rank-deficient 3072 x 3072 covariance is slow); directions outside the
            # images' span have eigenvalue 0 and get the scale 1 / sqrt(bias).
            c = global_contrast_normalize(x, self.scale).double() - mean
            s_, v = _eigh(c @ c.T / n)
            keep = s_ > 1e-10 * s_.max().clamp_min(1e-300)
            s_, v = s_[keep], v[:, keep]
            u = (c.T @ v) / torch.sqrt(n * s_)
            scale = 1 / torch.sqrt(s_ + self.bias) - 1 / self.bias ** 0.5
            matrix = torch.eye(d, dtype=torch.float64) / self.bias ** 0.5 + (u * scale) @ u.T
            eigenvalues = torch.cat([torch.zeros(d - s_.numel(), dtype=torch.float64), s_])
        else:
            cov = torch.zeros(d, d, dtype=torch.float64)
            for s in range(0, n, self.chunk):
                # float32 products per chunk (twice as fast), summed in float64: errors ~1e-6,
                # far below the filter bias 0.1 that every eigenvalue gets added.
                c = global_contrast_normalize(x[s:s + self.chunk], self.scale) - mean.float()
                cov += (c.T @ c).double()
            cov /= n
            eigenvalues, u = _eigh(cov)
            eigenvalues = eigenvalues.clamp_min(0)
            matrix = (u / torch.sqrt(eigenvalues + self.bias)) @ u.T
        self.matrix = matrix.float()
        self.mean = mean.float()
        self.eigenvalues = eigenvalues.float()
        self.shape = tuple(x.shape[1:])
        return self

    def transform(self, x) -> torch.Tensor:
        if self.matrix is None:
            raise ValueError("ZCA.transform called before fit")
        x = torch.as_tensor(x)
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"images of shape {tuple(x.shape[1:])} but ZCA was fitted on {self.shape}")
        out = torch.empty((x.shape[0], *self.shape), dtype=torch.float32)
        for s in range(0, x.shape[0], self.chunk):
            g = global_contrast_normalize(x[s:s + self.chunk], self.scale) - self.mean
            out[s:s + self.chunk] = (g @ self.matrix).view(-1, *self.shape)
        return out

    __call__ = transform

    def state_dict(self) -> dict:
        return {"bias": self.bias, "scale": self.scale, "mean": self.mean, "matrix": self.matrix,
                "eigenvalues": self.eigenvalues, "shape": list(self.shape or ())}

    def load_state_dict(self, d: dict) -> None:
        self.bias, self.scale = float(d["bias"]), float(d["scale"])
        self.mean, self.matrix, self.eigenvalues = d["mean"], d["matrix"], d["eigenvalues"]
        self.shape = tuple(d["shape"])


class _MeanStd:
    """Per-channel mean and std of the training images, on the [0, 1] scale."""

    def __init__(self, train_images):
        x = _as_float(train_images) / 255
        self.mean = x.mean((0, 2, 3)).view(1, -1, 1, 1)
        self.std = x.std((0, 2, 3)).clamp_min(1e-8).view(1, -1, 1, 1)

    def __call__(self, x):
        return (_as_float(x) / 255 - self.mean) / self.std

    def state_dict(self):
        return {"mean": self.mean, "std": self.std}


def _none(x):
    """No statistics: ``x / 255 - 0.5``, values in [-0.5, 0.5]."""
    return _as_float(x) / 255 - 0.5


def make_normalizer(name: str, train_images) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable uint8 images -> float32, fitted on ``train_images`` where it needs statistics.

    "zca": GCN + ZCA (CIFAR-10); "per_image": :func:`per_image_standardize` (SVHN);
    "meanstd": per-channel mean/std of the training images; "none": ``x / 255 - 0.5``.
    """
    if name == "zca":
        return ZCA().fit(train_images)
    if name == "per_image":
        return per_image_standardize
    if name == "meanstd":
        return _MeanStd(train_images)
    if name == "none":
        return _none
    raise ValueError(f"normalization={name!r} is not known; choose one of {', '.join(NORMALIZATIONS)}")
