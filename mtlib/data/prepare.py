"""One entry point for the trainer: load, subset, split, normalise (design: config -> data).

Order of operations (all seeded by ``seed``): load train/test -> keep ``classes`` (relabelled
0..k-1 in the dataset's class order) -> ``max_train`` class-balanced seeded subset -> hold out
``n_val`` validation images -> class-balanced ``n_labels`` labeled split of the rest -> fit the
normaliser on those training images (labeled and unlabeled, never val/test) and apply it to all.

SVHN's ``extra`` split (Table 3: 500 labels + 100k / 500k extra unlabeled images): with
``n_extra_unlabeled > 0`` a seeded subset of that many extra images (same ``classes`` and
``image_size`` treatment) is appended to the training images after the validation and label
splits, so they are never labeled nor held out; they join ``unlabeled_idx`` and the normaliser
is fitted on them too. ``n_extra_unlabeled=0`` changes nothing (no load, no random draws).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from mtlib.checks import check_int
from mtlib.data.datasets import ImageSet, load_dataset
from mtlib.data.normalize import make_normalizer
from mtlib.data.splits import label_split, masked_labels, validation_split

# Different streams for different uses of one seed.
_SEED_MAX_TRAIN, _SEED_VAL, _SEED_LABELS, _SEED_EXTRA = 7919, 104729, 0, 1299709


@dataclass
class SemiSupervisedData:
    """Normalised float32 images and the label split of one run."""

    train_x: torch.Tensor            # (N, 3, 32, 32) float32, normalised
    train_labels: torch.Tensor       # (N,) true labels; only for evaluation and diagnostics
    train_y_masked: torch.Tensor     # (N,) NO_LABEL except at labeled_idx: what losses may see
    labeled_idx: torch.Tensor
    unlabeled_idx: torch.Tensor
    val_x: torch.Tensor              # (n_val, 3, 32, 32), possibly empty
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list
    num_classes: int
    normalizer: Optional[Callable] = None
    dataset: str = ""

    @property
    def n_labels(self) -> int:
        return int(self.labeled_idx.numel())


def restrict_classes(data: ImageSet, classes: Sequence[str]) -> ImageSet:
    """Keep only the named classes, relabelled 0..k-1 in the dataset's class order."""
    if isinstance(classes, str) or not isinstance(classes, (list, tuple)):
        raise ValueError(f"classes={classes!r} must be a list of class names from {data.classes}")
    unknown = [c for c in classes if c not in data.classes]
    if unknown:
        raise ValueError(f"classes={list(classes)} names {unknown}, not classes of this dataset; "
                         f"choose from {data.classes}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes={list(classes)} repeats a class name")
    if len(classes) < 2:
        raise ValueError(f"classes={list(classes)} must name at least 2 classes")
    keep = [i for i, c in enumerate(data.classes) if c in classes]
    remap = torch.full((len(data.classes),), -1, dtype=torch.long)
    remap[keep] = torch.arange(len(keep))
    idx = (remap[data.labels] >= 0).nonzero().flatten()
    return ImageSet(data.images[idx], remap[data.labels[idx]], [data.classes[i] for i in keep])


def downscale(data: ImageSet, image_size: int) -> ImageSet:
    """Images averaged down to ``image_size`` x ``image_size`` pixels (area interpolation), still uint8.

    A CPU-scale knob: a 16 x 16 image costs the ConvNet a quarter of the arithmetic of 32 x 32.
    """
    size = data.images.shape[-1]
    if image_size == size:
        return data
    if not 4 <= image_size <= size:
        raise ValueError(f"image_size={image_size} must be between 4 and the images' size {size}")
    small = torch.nn.functional.interpolate(data.images.float(), size=(image_size, image_size), mode="area")
    return ImageSet(small.round().clamp(0, 255).to(torch.uint8), data.labels, data.classes)


def prepare_data(dataset: str, n_labels: int, seed: int, root=None, n_val: int = 0,
                 normalization: str = "zca", download: bool = False,
                 classes: Optional[Sequence[str]] = None,
                 max_train: Optional[int] = None, image_size: int = 32,
                 n_extra_unlabeled: int = 0) -> SemiSupervisedData:
    """Everything a run needs from the data; see the module docstring for the order of steps.

    ``load_dataset`` checks ``dataset``, ``label_split`` / ``validation_split`` check ``n_labels``
    and ``n_val``, ``make_normalizer`` checks ``normalization`` (RunConfig checks them all first).
    ``n_extra_unlabeled`` (SVHN only) appends that many images of the ``extra`` split, unlabeled.
    """
    check_int("n_extra_unlabeled", n_extra_unlabeled, low=0)
    if n_extra_unlabeled and dataset != "svhn":
        raise ValueError(f"n_extra_unlabeled={n_extra_unlabeled} needs dataset='svhn' "
                         f"(its 'extra' split); dataset={dataset!r} has none")
    train = load_dataset(dataset, train=True, root=root, download=download)
    test = load_dataset(dataset, train=False, root=root, download=download)
    if classes is not None:
        train, test = restrict_classes(train, classes), restrict_classes(test, classes)
    num_classes = len(train.classes)
    train, test = downscale(train, image_size), downscale(test, image_size)

    if max_train is not None:
        if not num_classes <= max_train <= len(train):
            raise ValueError(f"max_train={max_train} is out of range; choose "
                             f"{num_classes} <= max_train <= {len(train)} (or None for all)")
        try:
            keep, _ = label_split(train.labels, max_train, seed + _SEED_MAX_TRAIN, num_classes)
        except ValueError as e:   # a class too small for a balanced subset
            raise ValueError(f"max_train={max_train}: no class-balanced subset of that size "
                             f"({str(e).replace('n_labels', 'max_train')})") from None
        train = train.subset(keep)

    train_idx, val_idx = validation_split(train.labels, n_val, seed + _SEED_VAL)
    val, train = train.subset(val_idx), train.subset(train_idx)

    labeled_idx, unlabeled_idx = label_split(train.labels, n_labels, seed + _SEED_LABELS, num_classes)

    if n_extra_unlabeled:
        extra = _extra_subset(n_extra_unlabeled, seed, root, download, classes, image_size)
        n_regular = len(train)
        train = ImageSet(torch.cat([train.images, extra.images]),
                         torch.cat([train.labels, extra.labels]), train.classes)
        unlabeled_idx = torch.cat([unlabeled_idx, torch.arange(n_regular, len(train))])

    norm = make_normalizer(normalization, train.images)
    return SemiSupervisedData(
        train_x=norm(train.images).float(),
        train_labels=train.labels,
        train_y_masked=masked_labels(train.labels, labeled_idx),
        labeled_idx=labeled_idx,
        unlabeled_idx=unlabeled_idx,
        val_x=norm(val.images).float() if len(val) else torch.empty((0, *train.images.shape[1:])),
        val_y=val.labels,
        test_x=norm(test.images).float(),
        test_y=test.labels,
        classes=list(train.classes),
        num_classes=num_classes,
        normalizer=norm,
        dataset=dataset,
    )


def _extra_subset(n: int, seed: int, root, download: bool,
                  classes: Optional[Sequence[str]], image_size: int) -> ImageSet:
    """``n`` images of SVHN's extra split, a seeded random subset in file order."""
    extra = load_dataset("svhn", split="extra", root=root, download=download)
    if classes is not None:
        extra = restrict_classes(extra, classes)
    if n > len(extra):
        which = "" if classes is None else f" of classes {list(classes)}"
        raise ValueError(f"n_extra_unlabeled={n} is more than the {len(extra)} images{which} "
                         f"SVHN's extra split holds; choose 0 <= n_extra_unlabeled <= {len(extra)}")
    g = torch.Generator().manual_seed(seed + _SEED_EXTRA)
    keep = torch.randperm(len(extra), generator=g)[:n].sort().values
    return downscale(extra.subset(keep), image_size)


def load_data(cfg) -> SemiSupervisedData:
    """The data a RunConfig asks for (see :func:`prepare_data`)."""
    return prepare_data(cfg.dataset, cfg.n_labels, cfg.seed, root=cfg.data_root, n_val=cfg.n_val,
                        normalization=cfg.normalization, download=cfg.download,
                        classes=cfg.classes, max_train=cfg.max_train,
                        image_size=cfg.image_size,
                        n_extra_unlabeled=getattr(cfg, "n_extra_unlabeled", 0))
