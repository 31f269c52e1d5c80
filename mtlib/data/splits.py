"""Seeded splits of a training set: which images keep their labels, which are held out.

Paper Sec. 3: a class-balanced random subset of the training labels is kept (e.g. 4,000 of
CIFAR-10's 50,000 = 400 per class); Fig. 4 holds out 7,325 SVHN training images for validation.
All randomness comes from ``torch.Generator().manual_seed(seed)``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from mtlib.checks import check_int

NO_LABEL = -1   # the label of an image whose label is hidden (unlabeled)


def masked_labels(labels, labeled_idx) -> torch.Tensor:
    """A copy of ``labels`` with ``NO_LABEL`` everywhere except at ``labeled_idx``.

    Index it with a batch's indices: unlabeled images' true labels then never reach a loss.
    """
    labels = torch.as_tensor(labels).long()
    labeled_idx = torch.as_tensor(labeled_idx, dtype=torch.long)
    out = torch.full_like(labels, NO_LABEL)
    out[labeled_idx] = labels[labeled_idx]
    return out


def _check_labels(labels) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be a 1-d integer tensor; got shape {tuple(labels.shape)} "
                         f"{labels.dtype}")
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError("labels must be >= 0 (true labels, not a NO_LABEL mask)")
    return labels.long()


def label_split(labels, n_labels: int, seed: int,
                num_classes: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Class-balanced labeled subset: ``(labeled_idx, unlabeled_idx)``, both sorted int64.

    Each class gets ``n_labels // C`` images, the remainder one more each for classes
    0, 1, ..., r-1; which images is drawn per class with the seeded generator. The two index
    sets are disjoint and cover ``range(N)``. ``n_labels == N`` keeps every label ("all labels").
    """
    labels = _check_labels(labels)
    check_int("seed", seed)
    check_int("n_labels", n_labels)
    n = labels.numel()
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if n else 0
    check_int("num_classes", num_classes, low=1)
    if n and int(labels.max()) >= num_classes:
        raise ValueError(f"num_classes={num_classes} but labels go up to {int(labels.max())}")
    if n_labels > n:
        raise ValueError(f"n_labels={n_labels} is more labels than images ({n}); "
                         f"choose {num_classes} <= n_labels <= {n}")
    if n_labels < num_classes:
        raise ValueError(f"n_labels={n_labels} is fewer than the {num_classes} classes; "
                         f"choose {num_classes} <= n_labels <= {n}")
    all_idx = torch.arange(n)
    if n_labels == n:
        return all_idx, all_idx[:0]
    g = torch.Generator().manual_seed(seed)
    per, extra = divmod(n_labels, num_classes)
    chosen = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        want = per + (1 if c < extra else 0)
        if members.numel() < want:
            raise ValueError(f"n_labels={n_labels} needs {want} labeled images of class {c} but it "
                             f"has only {members.numel()}; choose a smaller n_labels")
        chosen.append(members[torch.randperm(members.numel(), generator=g)[:want]])
    labeled = torch.cat(chosen).sort().values
    mask = torch.ones(n, dtype=torch.bool)
    mask[labeled] = False
    return labeled, all_idx[mask]


def validation_split(labels, n_val: int, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Hold out ``n_val`` random images: ``(train_idx, val_idx)``, both sorted int64.

    Not stratified (the reference code draws uniformly). ``n_val=0`` returns every index as train.
    """
    labels = _check_labels(labels)
    n = labels.numel()
    if n_val < 0 or n_val >= n:
        raise ValueError(f"n_val={n_val} must satisfy 0 <= n_val < {n} (the number of training "
                         "images); 0 means no validation split")
    all_idx = torch.arange(n)
    if n_val == 0:
        return all_idx, all_idx[:0]
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    return perm[n_val:].sort().values, perm[:n_val].sort().values
