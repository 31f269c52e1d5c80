"""One run across processes with DistributedDataParallel (torchrun; gloo on CPU, nccl on GPUs).

    torchrun --nproc_per_node=4 -m mtlib.reproduce.distributed table4-resnet --seeds 0 --results DIR

Every rank draws the same global batch and takes its slice (labeled[r::W] and unlabeled[r::W], so
ranks hold equal labeled counts; the authors' ResNet instead split its 512 = 124 labeled + 388 unlabeled
images into 4 contiguous groups of 128 with nn.DataParallel, unlabeled first, so three GPUs held only
unlabeled images; the settings page states it). DDP averages gradients,
which with equal slices is the global batch's gradient (with masked batches, ranks' labeled means
weigh equally). Batch norm is synchronised over the global batch (SyncBatchNorm on CUDA,
:class:`GlobalBatchNorm2d` on CPU), so BN buffers and the EMA teacher, updated on every rank from
identical weights, stay identical (``teachers_equal``). Noise is per rank; checkpoints are per rank;
rank 0 saves the results. Temporal Ensembling is refused (its ensemble would need an all-gather).
"""
import argparse
import os
import sys
import warnings

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from mtlib.config import RunConfig
from mtlib.data.batches import SamplerView
from mtlib.reproduce import cli
from mtlib.runs import DataCache
from mtlib.results import result_path
from mtlib.training.trainer import Trainer

from torch.distributed.nn.functional import all_reduce as _all_reduce_autograd


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
    lpb = cfg.labeled_per_batch
    if cfg.method == "temporal_ensembling":
        raise ValueError("method='temporal_ensembling' cannot run distributed (its per-image ensemble would "
                         "need an all-gather every step); run it in one process")
    if cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} does not divide by world_size={world}")
    if lpb is not None and (lpb % world or (cfg.batch_size - lpb) % world):
        raise ValueError(f"labeled_per_batch={lpb} (and batch_size - labeled_per_batch) must divide by "
                         f"world_size={world} so every rank holds as many labeled images")


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

    def _build_student(self):
        return sync_batchnorm(super()._build_student(), self.cfg.device)

    def _wrap_student(self, student):
        ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers need no broadcast: synchronised BN keeps them identical on every rank
        with warnings.catch_warnings():   # broadcast_buffers=False is still the way to skip buffer syncs
            warnings.simplefilter("ignore", FutureWarning)
            return DistributedDataParallel(student, device_ids=ids, broadcast_buffers=False)

    def _make_batches(self):
        lpb = self.cfg.labeled_per_batch if self.method.uses_unlabeled else None
        return RankSlice(super()._make_batches(), self.rank, self.world, lpb)

    def _reduce_stats(self, stats):
        """Summed train stats averaged over ranks (one all-reduce per evaluation, not per step)."""
        if self.world == 1:
            return super()._reduce_stats(stats)
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

    def run(self, progress=True, resume=True, should_stop=None):
        result = super().run(progress=progress and self.rank == 0, resume=resume, should_stop=should_stop)
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
    ap = argparse.ArgumentParser(prog="torchrun --nproc_per_node=N -m mtlib.reproduce.distributed",
                                 description="Run a preset's selected runs one after another, each across "
                                             "all processes of the torchrun job (DDP).")
    cli.add_selection(ap, checkpoints=True)
    ap.add_argument("--backend", default=None, help="default: nccl with CUDA, else gloo")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    dist.init_process_group(args.backend or ("nccl" if cuda else "gloo"))
    rank, world = _world()
    try:
        local = int(os.environ.get("LOCAL_RANK", 0))
        if cuda:
            torch.cuda.set_device(local)
        runs, folder = cli.select(args, **({"device": f"cuda:{local}"} if cuda else {}))
        if rank == 0:
            cli.check_writable(folder)
        cache = DataCache()
        for k, r in enumerate(runs, 1):
            status, _ = cli.run_status(folder, r.config)
            dist.barrier()
            if status == "done":
                if rank == 0:
                    print(f"[{k}/{len(runs)}] {r.name} ... skipped", flush=True)
                continue
            cfg = cli.run_config(r, folder, args.checkpoint_every)
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
    except (cli.ReproduceError, ValueError) as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return cli.EXIT_ERROR
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
