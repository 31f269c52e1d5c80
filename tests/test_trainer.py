"""The one trainer: determinism, checkpoint-and-resume, divergence, results files."""
import math
from contextlib import nullcontext

import pytest
import torch

from mtlib.data.batches import masked_labels
from mtlib.config import RunConfig
from mtlib.data import SemiSupervisedData
from mtlib.results import (MATCHING, OTHER_PARAMETERS, OTHER_VERSION, RESULTS_VERSION, load_result, matching_results,
                           result_path, result_status)
from mtlib.training.precision import native_bf16
from mtlib.runs import load_runs, run_or_load
from mtlib.training.trainer import Trainer, TrainingDiverged


class _Fixed:
    """A DataCache stand-in that always returns the same data."""

    def __init__(self, data):
        self.data = data

    def get(self, cfg):
        return self.data


def tiny_data(n=60, n_test=40, classes=3, seed=0):
    """Random but learnable images: class k has a bright k-th colour channel."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, 3, 32, 32, generator=g) * 0.5
    x[torch.arange(n), y] += 1.5
    ty = torch.arange(n_test) % classes
    tx = torch.randn(n_test, 3, 32, 32, generator=g) * 0.5
    tx[torch.arange(n_test), ty] += 1.5
    labeled = torch.tensor([0, 1, 2, 3, 4, 5])
    unlabeled = torch.arange(6, n)
    return SemiSupervisedData(train_x=x, train_labels=y, train_y_masked=masked_labels(y, labeled),
                              labeled_idx=labeled, unlabeled_idx=unlabeled,
                              val_x=torch.empty(0, 3, 32, 32), val_y=torch.empty(0, dtype=torch.long),
                              test_x=tx, test_y=ty, classes=["a", "b", "c"], num_classes=classes)


def tiny_cfg(**changes):
    base = dict(method="mean_teacher", n_labels=6, width=0.0625, steps=12, batch_size=20,
                rampup_steps=4, rampdown_steps=4, eval_every=4, consistency_weight=1.0, ema_decay=0.9)
    return RunConfig(**{**base, **changes})


@pytest.mark.parametrize("method", ["supervised", "pi", "temporal_ensembling", "mean_teacher"])
def test_same_seed_same_history(method):
    data = tiny_data()
    a = Trainer(tiny_cfg(method=method), data).run(progress=False)
    b = Trainer(tiny_cfg(method=method), data).run(progress=False)
    assert a.history == b.history
    assert [r["step"] for r in a.history] == [4, 8, 12]
    assert all(0.0 <= r["ema_test_error"] <= 100.0 for r in a.history)
    c = Trainer(tiny_cfg(method=method, seed=1), data).run(progress=False)
    assert c.history != a.history


def test_two_stream_batches_and_te_epochs():
    data = tiny_data()
    cfg = tiny_cfg(method="temporal_ensembling", labeled_per_batch=2, steps=20)
    tr = Trainer(cfg, data)
    tr.run(progress=False)
    # 54 unlabeled images, 18 per batch: 3 batches an epoch, 20 steps -> 6 epochs done
    assert tr.method.epochs_done == 6


def test_resume_gives_same_final_metrics(tmp_path):
    data = tiny_data()
    full = Trainer(tiny_cfg(method="mean_teacher", checkpoint_every=0), data).run(progress=False)
    cfg = tiny_cfg(method="mean_teacher", checkpoint_every=5, checkpoint_dir=str(tmp_path))
    first = Trainer(cfg.replace(), data)
    for _ in range(5):            # 'interrupted' after the checkpoint at step 5
        first.train_step()
        if first.step % 4 == 0:
            first.evaluate_now()
    first._wall = 1000.0          # as if the first slice had trained for 1,000 s
    first.save_checkpoint()
    resumed = Trainer(cfg, data)
    assert resumed.resume() and resumed.step == 5
    result = resumed.run(progress=False)
    assert result.history == full.history
    assert result.final == full.final
    # provenance: the whole run's wall time (both slices) and its speed over all 12 steps
    wall = result.provenance["wall_time_s"]
    assert 1000.0 < wall < 1100.0
    assert result.provenance["images_per_s"] == pytest.approx(12 * 20 / wall, abs=0.05)   # rounded to 0.1


def test_diverging_loss_stops_with_clear_error(tmp_path):
    data = tiny_data()
    cfg = tiny_cfg(lr=1e30, rampup_steps=0, rampdown_steps=0, checkpoint_every=1, checkpoint_dir=str(tmp_path))
    tr = Trainer(cfg, data)
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf|-inf) at step \d+") as info:
        tr.run(progress=False)
    assert tr.checkpoint_path.exists()          # the last good checkpoint is kept
    state = torch.load(tr.checkpoint_path, weights_only=True)
    assert all(math.isfinite(float(v.float().abs().sum())) for v in state["student"].values())
    assert isinstance(info.value.history, list)


def test_run_or_load_saves_then_loads(tmp_path):
    data = tiny_data()
    cfg = tiny_cfg(steps=4, eval_every=2, checkpoint_dir=str(tmp_path / "ckpt"), data_root=str(tmp_path))
    first = run_or_load(cfg, tmp_path, data_cache=_Fixed(data))
    path = result_path(tmp_path, cfg.to_dict())
    assert path.exists()
    saved = load_result(path)
    assert saved.config["checkpoint_dir"] is None and saved.config["data_root"] is None   # no machine paths
    assert str(tmp_path) not in path.read_text()
    assert saved.final == first.final
    assert saved.provenance["mtlib_version"] and saved.provenance["wall_time_s"] >= 0
    assert {"seed", "method", "ema_decay"} <= set(saved.config)
    again = run_or_load(cfg, tmp_path, data_cache=_Fixed(None))   # no data needed: loaded
    assert again.final == first.final and "loaded_from" in again.provenance
    assert result_status(tmp_path, cfg.to_dict())[0] == MATCHING
    assert result_status(tmp_path, cfg.replace(ema_decay=0.5).to_dict())[0] != MATCHING
    assert result_status(tmp_path, cfg.to_dict(), version=RESULTS_VERSION + 1)[0] == OTHER_VERSION
    other = load_result(path)
    other.config["ema_decay"] = 0.5           # a file at this run's path, made for other parameters
    assert result_status(tmp_path, cfg.to_dict(), scanned={path.name: other})[0] == OTHER_PARAMETERS


def test_load_runs_trains_nothing_unless_asked_and_counts_what_is_missing(tmp_path):
    data = tiny_data()
    cfgs = [tiny_cfg(steps=4, eval_every=2, seed=s, data_root=str(tmp_path)) for s in (0, 1)]
    first = run_or_load(cfgs[0], tmp_path, data_cache=_Fixed(data))
    found, missing = load_runs(cfgs, tmp_path)                  # seed 1 has no file: not trained
    assert [r.final for r in found] == [first.final] and missing == 1
    assert not result_path(tmp_path, cfgs[1].to_dict()).exists()
    assert load_runs([], tmp_path) == ([], 0)
    assert matching_results(tmp_path, [c.to_dict() for c in cfgs]) == (found, 1)   # the presets' readers
    stale = load_result(result_path(tmp_path, cfgs[0].to_dict()))
    stale.provenance["results_version"] = RESULTS_VERSION - 1    # a file of another results version counts as missing
    stale.save(result_path(tmp_path, cfgs[0].to_dict()))
    assert load_runs(cfgs, tmp_path) == ([], 2)


def test_foreign_results_file_is_rejected(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not an mtlib results file"):
        load_result(p)
    p.write_text("{broken")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        load_result(p)


def test_speed_knobs_keep_results_and_identity():
    """channels_last computes the same run up to rounding; bf16 autocast trains; precision, memory
    format and compile are how a run is computed, not what: they leave its identity (and key) alone."""
    from mtlib.results import run_key
    data = tiny_data()
    # the first step's loss (before any update: Adam's sign-like early steps amplify rounding later)
    # dropout off: its masks are drawn in memory order, so NHWC draws other (equally random) masks.
    # Both paths pinned to fp32: the tolerance is float32 rounding (auto may resolve to bf16 here)
    plain = Trainer(tiny_cfg(steps=4, dropout=0.0, precision="fp32"), data).train_step()
    nhwc = Trainer(tiny_cfg(steps=4, dropout=0.0, channels_last=True, precision="fp32"), data).train_step()
    assert float(plain["loss"]) == pytest.approx(float(nhwc["loss"]), rel=1e-5)
    with pytest.warns(UserWarning, match="without native bfloat16") if not native_bf16("cpu") else nullcontext():
        bf16 = Trainer(tiny_cfg(steps=4, eval_every=2, precision="bf16"), data).run(progress=False)
    assert all(math.isfinite(r["train_loss"]) for r in bf16.history)
    assert bf16.provenance["precision"] == "bf16" and bf16.provenance["results_version"] == RESULTS_VERSION
    keys = {run_key(tiny_cfg(precision=p, channels_last=cl, compile=c).to_dict())
            for p in ("auto", "fp32", "bf16") for cl in (False, True) for c in (False, True)}
    assert keys == {run_key(tiny_cfg().to_dict())}
    assert run_key(tiny_cfg(seed=1).to_dict()) != run_key(tiny_cfg().to_dict())


def test_trainer_refuses_a_dict_by_name():
    """The config is checked once, in RunConfig; a dict would skip that check."""
    with pytest.raises(TypeError, match=r"cfg must be a RunConfig.*RunConfig\.from_dict"):
        Trainer(tiny_cfg().to_dict(), tiny_data())
