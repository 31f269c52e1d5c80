"""Infinite, seeded streams of index batches (the book's Settings and their sources page, book/settings.md).

Two schemes:

- :class:`TwoStreamBatches`: every batch holds ``labeled_per_batch`` labeled images and the rest
  unlabeled (SVHN ConvNet 1 + 99; ResNet-26 124 + 388 over 4 GPUs). An epoch is one pass over the
  unlabeled images; the labeled images cycle, reshuffled at each pass.
- :class:`MaskedBatches`: batches drawn as shuffled epochs over the whole training set (CIFAR-10
  ConvNet, Pi model, Temporal Ensembling); the labels of unlabeled images are hidden by
  :func:`mtlib.data.splits.masked_labels`.

Both draw only from the ``torch.Generator`` they are given (which they should own: their
``state_dict`` holds its state) and resume exactly via ``state_dict`` / ``load_state_dict``.
"""
from __future__ import annotations

import torch

from mtlib.checks import check_int
from mtlib.data.splits import NO_LABEL, masked_labels  # noqa: F401  (importable from here too)


class _Stream:
    """Cycle through ``pool`` in reshuffled passes; ``passes`` counts items drawn / len(pool)."""

    def __init__(self, pool: torch.Tensor, generator: torch.Generator):
        self.pool = pool
        self.generator = generator
        self.perm = pool[:0]
        self.pos = 0
        self.drawn = 0

    def take(self, k: int) -> torch.Tensor:
        parts = []
        while k > 0:
            if self.pos >= self.perm.numel():
                self.perm = self.pool[torch.randperm(self.pool.numel(), generator=self.generator)]
                self.pos = 0
            part = self.perm[self.pos:self.pos + k]
            self.pos += part.numel()
            k -= part.numel()
            self.drawn += part.numel()
            parts.append(part)
        return torch.cat(parts) if parts else self.pool[:0]

    @property
    def passes(self) -> float:
        return self.drawn / self.pool.numel() if self.pool.numel() else 0.0

    def state_dict(self):
        return {"perm": self.perm.clone(), "pos": self.pos, "drawn": self.drawn}

    def load_state_dict(self, d):
        self.perm = d["perm"].clone().long()
        self.pos = int(d["pos"])
        self.drawn = int(d["drawn"])


class _Batches:
    generator: torch.Generator

    def __iter__(self):
        return self

    def state_dict(self) -> dict:
        """Everything needed to continue with the identical next batches (generator included)."""
        d = {"generator": self.generator.get_state(), "steps": self.steps}
        d.update({f"stream_{k}": s.state_dict() for k, s in self._streams().items()})
        return d

    def load_state_dict(self, d: dict) -> None:
        self.generator.set_state(d["generator"])
        self.steps = int(d["steps"])
        for k, s in self._streams().items():
            s.load_state_dict(d[f"stream_{k}"])


class TwoStreamBatches(_Batches):
    """Batches of ``labeled_per_batch`` labeled + ``batch_size - labeled_per_batch`` unlabeled.

    ``epoch``: passes over the unlabeled images so far (float; over the labeled images when
    there are no unlabeled slots).
    """

    def __init__(self, labeled_idx, unlabeled_idx, batch_size: int, labeled_per_batch: int,
                 generator: torch.Generator):
        labeled_idx = torch.as_tensor(labeled_idx, dtype=torch.long).flatten()
        unlabeled_idx = torch.as_tensor(unlabeled_idx, dtype=torch.long).flatten()
        check_int("batch_size", batch_size, low=1)
        if labeled_per_batch > batch_size:
            raise ValueError(f"labeled_per_batch={labeled_per_batch} is more than "
                             f"batch_size={batch_size}; choose 1 <= labeled_per_batch <= batch_size")
        if labeled_idx.numel() and labeled_per_batch < 1:
            raise ValueError(f"labeled_per_batch={labeled_per_batch} but there are "
                             f"{labeled_idx.numel()} labeled images; choose labeled_per_batch >= 1")
        if not labeled_idx.numel() and labeled_per_batch > 0:
            raise ValueError(f"labeled_per_batch={labeled_per_batch} but labeled_idx is empty; "
                             "use labeled_per_batch=0")
        n_unl = batch_size - labeled_per_batch
        if n_unl > 0 and not unlabeled_idx.numel():
            raise ValueError(f"unlabeled_idx is empty but batch_size - labeled_per_batch = {n_unl} "
                             "unlabeled slots; set labeled_per_batch=batch_size (all labels) "
                             "or use MaskedBatches")
        self.batch_size = batch_size
        self.labeled_per_batch = labeled_per_batch
        self.generator = generator
        self.labeled = _Stream(labeled_idx, generator)
        self.unlabeled = _Stream(unlabeled_idx, generator)
        self.steps = 0

    def _streams(self):
        return {"labeled": self.labeled, "unlabeled": self.unlabeled}

    def __next__(self) -> torch.Tensor:
        lab = self.labeled.take(self.labeled_per_batch)
        unl = self.unlabeled.take(self.batch_size - self.labeled_per_batch)
        self.steps += 1
        return torch.cat([lab, unl])

    @property
    def epoch(self) -> float:
        if self.batch_size > self.labeled_per_batch:
            return self.unlabeled.passes
        return self.labeled.passes

    @property
    def batches_per_epoch(self) -> float:
        """Batches in one pass over the unlabeled images (labeled ones when there are none)."""
        n_unl = self.batch_size - self.labeled_per_batch
        if n_unl > 0:
            return self.unlabeled.pool.numel() / n_unl
        return self.labeled.pool.numel() / self.labeled_per_batch


class MaskedBatches(_Batches):
    """Batches of ``batch_size`` indices from shuffled passes over ``range(n_images)``.

    Passes follow one another without a gap, so a batch may straddle two epochs; ``epoch`` is
    the number of passes so far (float). Mask labels with :func:`mtlib.data.splits.masked_labels`.
    """

    def __init__(self, n_images: int, batch_size: int, generator: torch.Generator):
        check_int("n_images", n_images, low=1)
        check_int("batch_size", batch_size, low=1)
        self.n_images = n_images
        self.batch_size = batch_size
        self.generator = generator
        self.stream = _Stream(torch.arange(n_images), generator)
        self.steps = 0

    def _streams(self):
        return {"all": self.stream}

    def __next__(self) -> torch.Tensor:
        self.steps += 1
        return self.stream.take(self.batch_size)

    @property
    def epoch(self) -> float:
        return self.stream.passes

    @property
    def batches_per_epoch(self) -> float:
        return self.n_images / self.batch_size


class SamplerView:
    """A wrapper around a batch sampler that changes the indices it yields, not its state.

    Subclasses implement ``__next__`` from ``next(self.sampler)``; epochs and checkpoints are the
    wrapped sampler's.
    """

    def __init__(self, sampler):
        self.sampler = sampler

    def __iter__(self):
        return self

    @property
    def epoch(self):
        return self.sampler.epoch

    def state_dict(self):
        return self.sampler.state_dict()

    def load_state_dict(self, state):
        self.sampler.load_state_dict(state)
