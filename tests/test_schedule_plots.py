"""The schedules chapter's numbers and plots come from mtlib.training.schedules, checked at known steps."""
import math

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mtlib.book.schedule_plots import (PANELS, key_steps, plot_schedules, preset_config, sample_steps,  # noqa: E402
                                       schedule_values, values_at)
from mtlib.config import RunConfig  # noqa: E402
from mtlib.reproduce.presets import TABLE1_SVHN, TABLE2_CIFAR10, TABLE4_RESNET  # noqa: E402
from mtlib.scales import CPU_SCALE  # noqa: E402

CPU = RunConfig(**CPU_SCALE)   # 3000 steps, 1000-step ramp-up, 500-step ramp-down, weight 3, alpha 0.99


def test_cpu_scale_at_the_start_the_end_of_the_ramp_up_and_in_the_ramp_down():
    start = values_at(CPU, 0)
    assert start["lr"] == pytest.approx(0.003 * math.exp(-5))
    assert start["weight"] == pytest.approx(3.0 * math.exp(-5))
    assert (start["beta1"], start["beta2"], start["ema_decay"]) == (0.9, 0.99, 0.99)
    half = values_at(CPU, 500)
    assert half["weight"] == pytest.approx(3.0 * math.exp(-5 * 0.25))
    top = values_at(CPU, 1000)
    assert (top["lr"], top["weight"], top["beta1"], top["beta2"]) == (0.003, 3.0, 0.9, 0.999)
    assert values_at(CPU, 999)["beta2"] == 0.99
    assert values_at(CPU, 2500)["lr"] == 0.003
    last = values_at(CPU, 2999)
    down = math.exp(-12.5 * (499 / 500) ** 2)
    assert last["lr"] == pytest.approx(0.003 * down)
    assert last["beta1"] == pytest.approx(0.9 * down + 0.5 * (1 - down))


def test_paper_scale_presets():
    svhn, cifar, resnet = (preset_config(TABLE1_SVHN, 250), preset_config(TABLE2_CIFAR10, 4000),
                           preset_config(TABLE4_RESNET, 4000))
    assert (svhn.steps, svhn.rampup_steps, svhn.rampdown_steps) == (180_000, 40_000, 25_000)
    assert values_at(svhn, 39_999)["ema_decay"] == 0.99 and values_at(svhn, 40_000)["ema_decay"] == 0.999
    assert values_at(svhn, 40_000)["weight"] == 1.0
    # CIFAR-10 as the authors' cifar10_final_eval.py: beta2 and the EMA decay 0.999 from the first step
    assert values_at(cifar, 0)["beta2"] == 0.999 and values_at(cifar, 0)["ema_decay"] == 0.999
    assert values_at(cifar, 40_000)["weight"] == pytest.approx(8.0)
    # ResNet: SGD (no betas), cosine lr without warm-up, EMA warm start (first decay 0.5)
    first = values_at(resnet, 0)
    assert first["beta1"] is None and first["lr"] == pytest.approx(0.2) and first["ema_decay"] == 0.5
    assert values_at(resnet, resnet.steps - 1)["lr"] < 0.2 * 0.1


def test_key_and_sample_steps_hold_every_switch():
    assert key_steps(CPU) == [0, 500, 1000, 2500, 2999]
    steps = sample_steps(CPU, points=50)
    assert {999, 1000, 2499, 2500, 2999} <= set(steps) and steps == sorted(set(steps))
    values = schedule_values(CPU, [0, 1000, 2999])
    assert values["step"] == [0, 1000, 2999] and values["weight"][1] == 3.0


def test_plot_draws_mtlibs_values_one_row_per_config():
    resnet = preset_config(TABLE4_RESNET, 4000)
    fig = plot_schedules({"CPU scale": CPU, "ResNet": resnet})
    axes = fig.axes
    assert len(axes) == 2 * len(PANELS)
    lr_line = axes[0].lines[0]
    values = schedule_values(CPU)
    assert list(lr_line.get_xdata()) == values["step"] and list(lr_line.get_ydata()) == values["lr"]
    assert list(axes[2].lines[0].get_ydata()) == values["beta2"] and axes[2].get_ylim()[1] == 1.0
    sgd_row = axes[len(PANELS):]
    assert any("no β schedule" in t.get_text() for t in sgd_row[1].texts) and not sgd_row[1].lines
    assert any("no β schedule" in t.get_text() for t in sgd_row[2].texts)
    plt.close(fig)
