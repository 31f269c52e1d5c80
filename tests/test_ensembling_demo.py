"""Temporal Ensembling demo helpers: they drive the real method, and its bias correction is right."""
import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from mtlib.book import ensembling as demo
from mtlib.book.plots import plot_consistency_refresh, plot_ensemble_trace
from mtlib.results import RunResult


def test_constant_prediction_raw_ensemble_is_shrunk_and_target_is_exact():
    a = 0.6
    preds = demo.ramp_predictions(10, num_classes=10, start=0.7, end=0.7)
    trace = demo.trace_ensemble(preds, te_alpha=a)
    t = torch.arange(1, 11, dtype=torch.float32).view(-1, 1, 1)
    assert torch.allclose(trace["target"], preds, atol=1e-6)
    assert torch.allclose(trace["raw"], (1 - a ** t) * preds, atol=1e-6)
    assert trace["raw"][0, 0, 0].item() == pytest.approx(0.4 * 0.7)   # first epoch: 40 % of the truth
    assert torch.allclose(trace["raw"].sum(-1), (1 - a ** t).view(-1, 1), atol=1e-6)


def test_target_is_weighted_average_of_a_changing_sequence():
    preds = demo.ramp_predictions(8, num_classes=4, start=0.2, end=0.9)
    trace = demo.trace_ensemble(preds, te_alpha=0.6)
    assert torch.allclose(trace["target"], trace["average"], atol=1e-6)
    assert torch.allclose(trace["target"].sum(-1), torch.ones(8, 1), atol=1e-6)


def test_ramp_predictions_are_distributions_and_bad_input_is_named():
    p = demo.ramp_predictions(5, num_classes=3, start=0.1, end=0.9)
    assert p.shape == (5, 1, 3) and torch.allclose(p.sum(-1), torch.ones(5, 1))
    with pytest.raises(ValueError, match="start=1.5"):
        demo.ramp_predictions(3, start=1.5)
    with pytest.raises(ValueError, match="num_classes=1"):
        demo.ramp_predictions(3, num_classes=1)


def test_memory_is_measured_from_the_method_and_model():
    assert demo.ensemble_bytes(1000, 10) == 3 * 1000 * 10 * 4          # Z, z and targets, float32
    assert demo.ensemble_bytes(2000, 10) == 2 * demo.ensemble_bytes(1000, 10)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    # 16 + 8 parameters, running mean/var (8 floats) and num_batches_tracked (one int64)
    assert demo.state_bytes(net) == (16 + 8 + 8) * 4 + 8
    table = demo.memory_table({"tiny": demo.ensemble_bytes(100)}, {0.5: 2_000_000}, sizes={"tiny": 100})
    assert list(table["MB"]) == [pytest.approx(3 * 100 * 10 * 4 / 1e6, abs=1e-3), 2.0]
    assert list(table.index) == ["Temporal Ensembling: ensemble, tiny (100 images)",
                                 "Mean Teacher: EMA teacher, convnet13 width 0.5"]


def test_plots_run():
    trace = demo.trace_ensemble(demo.ramp_predictions(4), te_alpha=0.6)
    assert plot_ensemble_trace(trace, title="t") is not None
    history = [{"step": s, "epoch": s / 3, "train_consistency_cost": 0.0 if s < 3 else 0.1,
                "train_weight": s / 6} for s in range(1, 7)]
    fig = plot_consistency_refresh(RunResult(config={}, history=history), title="t")
    assert len(fig.axes) == 3   # steps since refresh; cost per window; its weight axis


def test_refresh_steps_read_from_the_epoch_column_match_the_trainers_epoch_ends():
    # 80 unlabeled images per batch from a pool of 7900: 98.75 steps an epoch, rows every 250 steps
    history = [{"step": s, "epoch": s * 80 / 7900} for s in (250, 500, 750, 1000)]
    per_epoch, refreshes = demo.refresh_steps(history)
    assert per_epoch == pytest.approx(98.75)
    # the trainer calls after_epoch after the step whose batch completes pass k: ceil(k * 98.75)
    assert refreshes == [99, 198, 297, 395, 494, 593, 692, 790, 889, 988]
    # an epoch of exactly 3 steps ends after steps 3, 6: no float error adds a step
    assert demo.refresh_steps([{"step": s, "epoch": s / 3} for s in (3, 6)]) == (pytest.approx(3.0), [3, 6])
    with pytest.raises(ValueError, match="epoch"):
        demo.refresh_steps([{"step": 0, "epoch": 0.0}])


def test_steps_since_refresh_is_a_sawtooth_with_no_target_before_the_first_epoch_ends():
    assert demo.steps_since_refresh(8, [3, 6]) == [None, None, 0, 1, 2, 0, 1, 2]
    assert demo.steps_since_refresh(2, []) == [None, None]


def test_logged_windows_are_the_steps_each_row_averages():
    history = [{"step": 3, "train_c": 0.5}, {"step": 6, "x": 1}, {"step": 9, "train_c": 0.25}]
    assert demo.logged_windows(history, "train_c") == [(1, 3, 0.5), (7, 9, 0.25)]


def test_refresh_steps_agree_with_a_real_sampler():
    """The steps after which int(sampler.epoch) grows are the ones refresh_steps reads off the history."""
    from mtlib.data.batches import TwoStreamBatches

    batches = TwoStreamBatches(torch.arange(7), torch.arange(7, 57), 12, 2, torch.Generator().manual_seed(0))
    ends, history = [], []
    for step in range(1, 31):
        before = int(batches.epoch)
        next(batches)
        if int(batches.epoch) > before:
            ends.append(step)
        if step % 7 == 0 or step == 30:   # eval_every 7, and the final row the trainer always logs
            history.append({"step": step, "epoch": float(batches.epoch)})
    assert demo.refresh_steps(history)[1] == ends
