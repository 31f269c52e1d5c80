"""Recalibrated normalisation statistics before evaluation (``recalibrate_batches``), pinned by hand;
training is bit for bit the same with it on or off."""
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mtlib.config import RunConfig
from mtlib.data.noise import Augment
from mtlib.models.weight_norm import MeanOnlyBatchNorm
from mtlib.reproduce.presets import PRESETS
from mtlib.results import run_key
from mtlib.training.recalibrate import noisy_batches, recalibrated
from mtlib.training.trainer import Trainer
from test_trainer import tiny_cfg, tiny_data

RESULTS = Path(__file__).resolve().parent.parent / "book" / "results" / "cpu"
NO_NOISE = Augment(translate=0, flip=False, input_noise=0.0)


def test_mean_only_batch_norm_gets_the_mean_of_its_batch_means():
    model = nn.Sequential(MeanOnlyBatchNorm(2))
    with torch.no_grad():
        model[0].eval_mean.copy_(torch.tensor([5.0, -5.0]))       # as trained (stale)
    batches = [torch.tensor([[1.0, 10.0], [3.0, 20.0]]),          # batch means (2, 15)
               torch.tensor([[4.0, 0.0], [6.0, 2.0]]),            # (5, 1)
               torch.tensor([[0.0, 0.0], [3.0, 3.0]])]            # (1.5, 1.5)
    fresh = recalibrated(model, batches, seed=0)
    assert torch.allclose(fresh[0].eval_mean, torch.tensor([8.5 / 3, 17.5 / 3]), atol=1e-6)
    assert not fresh.training and model.training
    assert torch.equal(model[0].eval_mean, torch.tensor([5.0, -5.0]))   # the model itself is untouched
    assert model[0].decay == 0.999 and fresh[0].bias is not model[0].bias
    # evaluation of the copy subtracts the new mean
    assert torch.allclose(fresh(torch.tensor([[3.0, 6.0]])), torch.tensor([[3.0 - 8.5 / 3, 6.0 - 17.5 / 3]]))


def test_batch_norm_gets_the_average_of_its_batch_statistics_as_update_bn_does():
    model = nn.Sequential(nn.BatchNorm2d(1))
    batches = [torch.tensor([1.0, 3.0, 5.0, 7.0]).reshape(2, 1, 1, 2),   # mean 4, unbiased variance 20/3
               torch.tensor([0.0, 0.0, 2.0, 2.0]).reshape(2, 1, 1, 2)]   # mean 1, unbiased variance 4/3
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fresh = recalibrated(model, batches, seed=0)
    assert torch.allclose(fresh[0].running_mean, torch.tensor([2.5]))
    assert torch.allclose(fresh[0].running_var, torch.tensor([4.0]))    # (20/3 + 4/3) / 2
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items()) and model[0].momentum == 0.1
    reference = nn.Sequential(nn.BatchNorm2d(1))
    torch.optim.swa_utils.update_bn(batches, reference)                  # torch's own: the same numbers
    assert torch.equal(fresh[0].running_mean, reference[0].running_mean)
    assert torch.equal(fresh[0].running_var, reference[0].running_var)


def test_dropout_is_on_seeded_and_leaves_the_global_generator_alone():
    model = nn.Sequential(nn.Dropout(0.5), MeanOnlyBatchNorm(1))
    batches = [torch.ones(64, 1)] * 2
    state = torch.get_rng_state()
    a = recalibrated(model, batches, seed=3)[1].eval_mean
    assert torch.equal(torch.get_rng_state(), state)
    assert float(a) != 1.0                                           # dropped-out inputs (0 or 2), not 1
    assert torch.equal(recalibrated(model, batches, seed=3)[1].eval_mean, a)
    assert not torch.equal(recalibrated(model, batches, seed=4)[1].eval_mean, a)
    model[0].p = 0.0                                                 # e.g. a teacher without dropout
    assert float(recalibrated(model, batches, seed=3)[1].eval_mean) == 1.0


def test_noisy_batches_draw_from_the_pool_with_their_own_generators():
    images = torch.arange(10.0).reshape(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous()
    pool = torch.tensor([1, 4, 7])
    clean = list(noisy_batches(images, 3, 2, NO_NOISE, seed=0, pool=pool))
    assert len(clean) == 3 and all(b.shape == (2, 1, 4, 4) for b in clean)
    assert all(set(b[:, 0, 0, 0].tolist()) <= {1.0, 4.0, 7.0} and len(set(b[:, 0, 0, 0].tolist())) == 2 for b in clean)
    state = torch.get_rng_state()
    noisy = list(noisy_batches(images, 3, 2, Augment(translate=1, flip=True, input_noise=0.15), seed=0, pool=pool))
    assert torch.equal(torch.get_rng_state(), state)
    again = list(noisy_batches(images, 3, 2, Augment(translate=1, flip=True, input_noise=0.15), seed=0, pool=pool))
    assert all(torch.equal(a, b) for a, b in zip(noisy, again))
    assert not any(torch.equal(a, b) for a, b in zip(noisy, clean))
    with pytest.raises(ValueError, match="n_batches=0 must be an integer >= 1"):
        next(noisy_batches(images, 0, 2, NO_NOISE, seed=0))
    with pytest.raises(ValueError, match="batches is empty"):
        recalibrated(nn.Sequential(MeanOnlyBatchNorm(1)), [], seed=0)


@pytest.mark.parametrize("method, norm", [("mean_teacher", "batchnorm"), ("mean_teacher", "weightnorm"),
                                          ("supervised", "batchnorm")])
def test_training_is_bit_identical_with_recalibration_on_or_off(method, norm):
    data = tiny_data()
    runs = {}
    for n in (0, 3):
        trainer = Trainer(tiny_cfg(method=method, convnet_norm=norm, recalibrate_batches=n), data)
        runs[n] = trainer, trainer.run(progress=False)
    (off, a), (on, b) = runs[0], runs[3]
    train_columns = [k for k in a.history[0] if k.startswith("train_")] + ["step", "epoch"]
    assert [{k: r[k] for k in train_columns} for r in a.history] == \
        [{k: r[k] for k in train_columns} for r in b.history]
    for x, y in ((off.student, on.student), (off.ema, on.ema)):
        assert all(torch.equal(s, t) for s, t in zip(x.state_dict().values(), y.state_dict().values()))
    assert torch.equal(off.noise_gen.get_state(), on.noise_gen.get_state())
    # both evaluations in one run: the as-trained columns are the plain run's, the recalibrated beside them
    for ra, rb in zip(a.history, b.history):
        assert all(rb[k] == ra[k] for k in ra if k.endswith(("_error", "_cost")))
        assert "ema_recal_test_error" not in ra
    assert [r["ema_test_cost"] for r in b.history] != [r["ema_recal_test_cost"] for r in b.history]
    assert "student_recal_unlabeled_error" in b.final


def test_trainer_recalibrates_a_weight_normed_copy_from_its_own_batches():
    trainer = Trainer(tiny_cfg(convnet_norm="weightnorm", recalibrate_batches=3, steps=8), tiny_data())
    for _ in range(8):
        trainer.train_step()
    layers = lambda model: [m for m in model.modules() if isinstance(m, MeanOnlyBatchNorm)]
    trained = [m.eval_mean.clone() for m in layers(trainer.ema)]
    fresh = trainer._recalibrated(trainer.ema)
    assert fresh is not trainer.ema and all(torch.equal(m.eval_mean, t) for m, t in zip(layers(trainer.ema), trained))
    assert all(not torch.allclose(m.eval_mean, t) for m, t in zip(layers(fresh), trained))
    # the first layer sees no dropout: its eval mean is the mean over the 3 noisy batches of conv(x)'s means
    cfg, conv = trainer.cfg, trainer.ema.features[0]
    batches = noisy_batches(trainer.train_x, 3, cfg.batch_size, trainer.augment, cfg.seed + 6)
    with torch.no_grad():
        by_hand = torch.stack([conv(x).mean(dim=(0, 2, 3)) for x in batches]).mean(0)
    assert torch.allclose(layers(fresh)[0].eval_mean, by_hand, atol=1e-6)
    assert trainer._recalibrated(trainer.student) is not trainer.student
    assert Trainer(tiny_cfg(), tiny_data())._recalibrated(trainer.ema) is trainer.ema     # 0: off


def test_config_field_is_validated_and_off_by_default():
    assert RunConfig().recalibrate_batches == 0
    with pytest.raises(ValueError, match=r"recalibrate_batches=-1 must be >= 0"):
        RunConfig(recalibrate_batches=-1)
    with pytest.raises(ValueError, match=r"recalibrate_batches=2.5 must be an integer"):
        RunConfig(recalibrate_batches=2.5)


def test_off_leaves_committed_results_keys_unchanged_and_on_changes_them():
    # a file made before the option existed (no such field; the bf16 originals) and its fp32 rerun
    # (made since, storing recalibrate_batches 0) have the same key; a non-zero value changes it
    old_files = {p.name: json.loads(p.read_text()) for p in sorted((RESULTS.parent / "research-bf16").glob("*.json"))}
    name, stored = next((n, d) for n, d in old_files.items() if "recalibrate_batches" not in d["config"])
    rerun = json.loads((RESULTS / name).read_text())
    assert rerun["config"]["recalibrate_batches"] == 0 and rerun["key"] == stored["key"]
    cfg = RunConfig.from_dict(stored["config"])
    assert cfg.recalibrate_batches == 0 and run_key(cfg.to_dict()) == stored["key"]
    assert run_key(cfg.replace(recalibrate_batches=20).to_dict()) != stored["key"]


def test_no_preset_recalibrates():
    # (a preset waiting for a value validation has not chosen yet lists no runs: mtlib.scales.NotChosenYet)
    assert all(run.config["recalibrate_batches"] == 0 for preset in PRESETS.values() if not preset.waiting_for()
               for run in preset.runs())
