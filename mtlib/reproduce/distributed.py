"""One run across processes with DistributedDataParallel (torchrun; gloo on CPU, nccl on GPUs).

    torchrun --nproc_per_node=4 -m mtlib.reproduce.distributed table4-resnet --seeds 0 --results DIR

What each rank does (design):
- Batches: every rank draws the SAME global batch from the same seeded sampler and takes its
  slice: with labeled + unlabeled streams, rank r takes labeled[r::W] and unlabeled[r::W], so
  every rank holds the same number of labeled images (the authors' ResNet: 4 GPUs x 31 + 97);
  masked batches are split as index[r::W]. The batch size (and labeled_per_batch) must divide by W.
- Gradients: DDP all-reduces (averages) them. Each rank's loss is a mean over its slice, so with
  equal slices the averaged gradient is the gradient of the global batch's loss. Exception: with
  masked batches the classification cost is a mean over each rank's labeled images, and ranks
  may hold different numbers of them; the ranks' means are then weighted equally.
- Batch norm: synchronised. Statistics are computed over the global batch (all-reduced sums,
  gradients flow through them): torch's SyncBatchNorm on CUDA, :class:`GlobalBatchNorm2d` on CPU
  (SyncBatchNorm is GPU-only). So BN buffers, and with them the EMA teacher, stay identical on
  every rank, and a W-process run computes what one process computes with the global batch.
- EMA teacher: updated on every rank from identical student weights after each step, so every
  rank holds the same teacher (``teachers_equal`` checks it). The teacher is not DDP-wrapped.
- Noise (augmentation, dropout, shake-shake): each rank draws from its own seeded streams.
- Checkpoints: one file per rank (per-rank random states); results: saved by rank 0.
- Temporal Ensembling is refused: its per-image ensemble would need an all-gather per step.
"""
import argparse
import os
import sys
import warnings
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from mtlib.data.batches import SamplerView

from mtlib.config import RunConfig
from mtlib.results import run_key
from mtlib.training.trainer import Trainer

try:
    from torch.distributed.nn.functional import all_reduce as _all_reduce_autograd
except ImportError:   # pragma: no cover
    _all_reduce_autograd = None


def _world():
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batch of every rank (CPU-capable SyncBatchNorm).

    One all-reduce per layer of (sum, sum of squares, count); autograd flows through it. Eval mode,
    or a single process, is plain BatchNorm2d.
    """

    def forward(self, x):
        rank, world = _world()
        if not self.training or world == 1:
            return super().forward(x)
        c = x.shape[1]
        local = torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), x.new_full((1,), x.numel() / c)])
        with warnings.catch_warnings():   # deprecated in favour of a collective without autograd
            warnings.simplefilter("ignore", FutureWarning)
            total = _all_reduce_autograd(local)
        n = total[-1]
        mean = total[:c] / n
        var = (total[c:2 * c] / n - mean * mean).clamp(min=0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def sync_batchnorm(module, device="cpu"):
    """``module`` with every BatchNorm2d synchronised across ranks (SyncBatchNorm on CUDA)."""
    if torch.device(device).type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if type(module) is nn.BatchNorm2d:
        new = GlobalBatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        setattr(module, name, sync_batchnorm(child, device))
    return module


class RankSlice(SamplerView):
    """This rank's share of each global batch of ``sampler`` (labeled and unlabeled parts split alike)."""

    def __init__(self, sampler, rank, world, labeled_per_batch=None):
        super().__init__(sampler)
        self.rank, self.world, self.labeled = rank, world, labeled_per_batch

    def __next__(self):
        index = next(self.sampler)
        if self.labeled is None:
            return index[self.rank::self.world]
        lab, unl = index[:self.labeled], index[self.labeled:]
        return torch.cat([lab[self.rank::self.world], unl[self.rank::self.world]])


def check_distributable(cfg, world):
    """ValueError unless ``cfg`` splits evenly over ``world`` ranks."""
    if cfg.method == "temporal_ensembling":
        raise ValueError("method='temporal_ensembling' is not supported by mtlib.reproduce.distributed (its per-image "
                         "ensemble would need an all-gather every step); run it in one process")
    if cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} does not divide by world_size={world}; every rank "
                         "needs an equal slice of the global batch")
    if cfg.labeled_per_batch is not None and (cfg.labeled_per_batch % world
                                              or (cfg.batch_size - cfg.labeled_per_batch) % world):
        raise ValueError(f"labeled_per_batch={cfg.labeled_per_batch} (and batch_size - labeled_per_batch) must "
                         f"divide by world_size={world} so every rank holds as many labeled images")


class DistributedTrainer(Trainer):
    """The Trainer, run as one rank of an initialised process group (see the module docstring)."""

    def __init__(self, cfg, data=None):
        cfg = cfg if isinstance(cfg, RunConfig) else RunConfig.from_dict(dict(cfg))
        self.rank, self.world = _world()
        check_distributable(cfg, self.world)
        super().__init__(cfg, data)
        if self.world > 1:      # per-rank noise: augmentation and (global RNG) dropout / shake-shake
            self.noise_gen.manual_seed(cfg.seed + 1 + 1_000_003 * self.rank)
            torch.manual_seed(cfg.seed + 7919 * self.rank)
        ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers need no broadcast: synchronised BN keeps them identical on every rank
        with warnings.catch_warnings():   # broadcast_buffers=False is still the way to skip buffer syncs
            warnings.simplefilter("ignore", FutureWarning)
            self.ddp = DistributedDataParallel(self.student, device_ids=ids, broadcast_buffers=False)
        self.method.student = self.ddp
        lpb = self.cfg.labeled_per_batch if self.method.uses_unlabeled else None
        self.batches = RankSlice(self.batches, self.rank, self.world, lpb)

    def _build_student(self):
        return sync_batchnorm(super()._build_student(), self.cfg.device)

    def _reduce_stats(self, stats):
        if self.world == 1:
            return stats
        keys = sorted(stats)
        values = torch.tensor([float(stats[k]) for k in keys], dtype=torch.float64)
        dist.all_reduce(values)
        return dict(zip(keys, (values / self.world).tolist()))

    @property
    def checkpoint_path(self):
        path = super().checkpoint_path
        if path is None or self.world == 1:
            return path
        return path.with_name(f"{path.stem}.rank{self.rank}of{self.world}{path.suffix}")

    def run(self, progress=True, resume=True):
        result = super().run(progress=progress and self.rank == 0, resume=resume)
        result.provenance.update(world_size=self.world, backend=dist.get_backend() if self.world > 1 else None)
        return result


def teachers_equal(teacher):
    """True when ``teacher``'s parameters and buffers are bitwise equal on every rank."""
    rank, world = _world()
    flat = torch.cat([t.detach().reshape(-1).double().cpu() for t in
                      list(teacher.parameters()) + list(teacher.buffers())])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])


# ------------------------------------------------------------------------------------------ CLI
def main(argv=None):
    """``torchrun --nproc_per_node=N -m mtlib.reproduce.distributed PRESET [selection] [--results DIR]``."""
    from mtlib.reproduce import cli as reproduce
    from mtlib.runs import DataCache, results_dir as default_results_dir
    from mtlib.results import result_path

    ap = argparse.ArgumentParser(prog="torchrun --nproc_per_node=N -m mtlib.reproduce.distributed",
                                 description="Run a preset's selected runs one after another, each across "
                                             "all processes of the torchrun job (DDP).")
    ap.add_argument("preset")
    ap.add_argument("--seeds", type=int, nargs="+")
    ap.add_argument("--labels", type=int, nargs="+")
    ap.add_argument("--methods", nargs="+")
    ap.add_argument("--variants", nargs="+")
    ap.add_argument("--override", nargs="+", default=[], metavar="KEY=VALUE")
    ap.add_argument("--results", type=Path, default=None)
    ap.add_argument("--checkpoint-every", type=int, default=1000)
    ap.add_argument("--backend", default=None, help="default: nccl with CUDA, else gloo")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    dist.init_process_group(args.backend or ("nccl" if cuda else "gloo"))
    rank, world = _world()
    try:
        override = reproduce.parse_override(args.override)
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            override.setdefault("device", f"cuda:{local}")
        runs = reproduce.select_runs(args.preset, args.seeds, args.labels, args.methods, args.variants, override)
        folder = Path(args.results) if args.results else default_results_dir("paper")
        if rank == 0:
            reproduce.check_writable(folder)
        cache = DataCache()
        for k, r in enumerate(runs, 1):
            if r.needs:
                raise reproduce.ReproduceError(f"{r.name} needs {r.needs}")
            status, _ = reproduce.run_status(folder, r.config)
            dist.barrier()
            if status == "done":
                if rank == 0:
                    print(f"[{k}/{len(runs)}] {r.name} ... skipped", flush=True)
                continue
            cfg = RunConfig.from_dict({**r.config, "checkpoint_dir": str(folder / "checkpoints"),
                                       "checkpoint_every": args.checkpoint_every})
            trainer = DistributedTrainer(cfg, cache.get(cfg))
            result = trainer.run(progress=rank == 0)
            if not teachers_equal(trainer.ema):
                raise RuntimeError(f"{r.name}: EMA teachers differ between ranks")
            if rank == 0:
                result.provenance.update(preset_run=r.name, via="distributed")
                result.save(result_path(folder, cfg.to_dict()))
                print(f"[{k}/{len(runs)}] {r.name} ... ran on {world} ranks", flush=True)
            dist.barrier()
            if trainer.checkpoint_path and trainer.checkpoint_path.exists():
                trainer.checkpoint_path.unlink()
        return 0
    except (reproduce.ReproduceError, ValueError) as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return reproduce.EXIT_ERROR
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
