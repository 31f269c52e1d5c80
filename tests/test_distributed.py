"""DDP (mtlib.reproduce.distributed): 2 CPU processes (gloo, file init) reproduce a 1-process run of the same global batch.

Tolerance, measured: with synchronised batch norm (GlobalBatchNorm2d), dropout 0 and no input
noise, the rank-averaged loss differs from the single-process loss by < 1e-5 absolute per step
(float32 reduction order and the one-pass variance), the final student weights by < 1e-4; the
EMA teachers are bitwise equal across ranks. We assert 1e-4 (loss) and 1e-3 (weights).
"""
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mtlib.data.batches import masked_labels
from mtlib.config import RunConfig
from mtlib.data import SemiSupervisedData
from mtlib.reproduce.distributed import GlobalBatchNorm2d, check_distributable
from mtlib.training.trainer import Trainer

STEPS = 6
LOSS_TOL, WEIGHT_TOL = 1e-4, 1e-3


def tiny_data(n=48, n_test=20, classes=3, size=16):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    x = torch.randn(n, 3, size, size, generator=g) * 0.5
    x[torch.arange(n), y] += 1.5
    ty = torch.arange(n_test) % classes
    tx = torch.randn(n_test, 3, size, size, generator=g)
    labeled, unlabeled = torch.arange(6), torch.arange(6, n)
    return SemiSupervisedData(train_x=x, train_labels=y, train_y_masked=masked_labels(y, labeled),
                              labeled_idx=labeled, unlabeled_idx=unlabeled,
                              val_x=torch.empty(0, 3, size, size), val_y=torch.empty(0, dtype=torch.long),
                              test_x=tx, test_y=ty, classes=["a", "b", "c"], num_classes=classes)


def ddp_cfg(**changes):
    base = dict(method="mean_teacher", n_labels=6, width=0.0625, dropout=0.0, input_noise=0.0, translate=0,
                flip=False, batch_size=16, labeled_per_batch=4, steps=STEPS, rampup_steps=2, rampdown_steps=2,
                eval_every=0, consistency_weight=1.0, ema_decay=0.9, threads=1,
                precision="fp32")   # two code paths compared: both in fp32, the tolerance is its rounding
    return RunConfig(**{**base, **changes})


METHODS = ("mean_teacher", "pi")


def _worker(rank, world, init_file, out_dir):
    from mtlib.reproduce.distributed import DistributedTrainer, teachers_equal
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        for method in METHODS:
            tr = DistributedTrainer(ddp_cfg(method=method), tiny_data())
            # the logged loss: this rank's loss averaged over ranks (the trainer's hook, at evaluation)
            losses = [tr._reduce_stats({"loss": tr.train_step()["loss"]})["loss"] for _ in range(STEPS)]
            torch.save({"losses": losses, "teachers_equal": teachers_equal(tr.ema),
                        "student": tr.student.state_dict()},
                       os.path.join(out_dir, f"{method}-rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_process(tmp_path):
    """One spawn (2 ranks) runs both methods; each is compared with a 1-process run of the global batch."""
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for method in METHODS:
        single = Trainer(ddp_cfg(method=method), tiny_data())
        ref = [float(single.train_step()["loss"]) for _ in range(STEPS)]
        r0, r1 = (torch.load(tmp_path / f"{method}-rank{r}.pt", weights_only=False) for r in range(2))
        assert r0["losses"] == r1["losses"]                      # logged stats are averaged over ranks
        worst = max(abs(a - b) for a, b in zip(r0["losses"], ref))
        assert worst < LOSS_TOL, f"{method}: loss trajectories differ by {worst:.2e}: {r0['losses']} vs {ref}"
        assert r0["teachers_equal"] and r1["teachers_equal"]
        ref_w = single.student.state_dict()
        wdiff = max(float((r0["student"][k].double() - ref_w[k].double()).abs().max()) for k in ref_w
                    if ref_w[k].is_floating_point())
        assert wdiff < WEIGHT_TOL, f"{method}: final student weights differ by {wdiff:.2e}"
        print(f"{method}: max |loss diff| {worst:.2e}, max |weight diff| {wdiff:.2e}")


def test_global_batchnorm_is_batchnorm_in_one_process():
    bn, ref = GlobalBatchNorm2d(4), torch.nn.BatchNorm2d(4)
    x = torch.randn(5, 4, 3, 3)
    assert torch.allclose(bn(x), ref(x)) and torch.allclose(bn.running_var, ref.running_var)


def test_uneven_split_is_refused():
    with pytest.raises(ValueError, match="labeled_per_batch=1 .*world_size=2"):
        check_distributable(ddp_cfg(labeled_per_batch=1), 2)
    with pytest.raises(ValueError, match="batch_size=15 does not divide by world_size=2"):
        check_distributable(ddp_cfg(batch_size=15, labeled_per_batch=None), 2)
    with pytest.raises(ValueError, match="temporal_ensembling"):
        check_distributable(ddp_cfg(method="temporal_ensembling"), 2)
