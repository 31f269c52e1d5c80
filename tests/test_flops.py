"""FLOP counts (mtlib.flops) against hand-computed values, and the pass counts of each method
against what its loss actually computes."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mtlib.book import tables
from mtlib.config import RunConfig
from mtlib.data.noise import Augment
from mtlib.data.splits import NO_LABEL
from mtlib.models import build_model
from mtlib.training import ema as ema_lib
from mtlib import flops
from mtlib.training.methods import METHOD_CLASSES, make_method


def tiny_conv_net():
    """conv 3 -> 4 channels (3x3, padding 1) on 8x8, ReLU, flatten, dense 256 -> 5."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))


# by hand, per image: a multiply-add is 2 FLOPs
CONV = 2 * (3 * 3 * 3) * 4 * (8 * 8)      # 13,824: 27 inputs per output, 4 x 64 outputs
DENSE = 2 * 256 * 5                         # 2,560
TINY_FORWARD = CONV + DENSE                 # 16,384


def test_linear_layer_forward_is_2_in_out_per_image():
    counts = flops.pass_flops_per_image(nn.Linear(10, 4), (10,))
    assert counts["forward"] == 2 * 10 * 4
    # backward to the weights: the weight gradient only (the input needs no gradient), 2 * 10 * 4 more
    assert counts["gradient"] == 2 * (2 * 10 * 4)
    # backward to the input only (VAT's power iteration): the input gradient, no weight gradient
    assert counts["input_gradient"] == 2 * (2 * 10 * 4)


def test_tiny_conv_net_by_hand():
    counts = flops.pass_flops_per_image(tiny_conv_net(), (3, 8, 8))
    assert counts["forward"] == TINY_FORWARD
    # backward: each layer's weight gradient (as its forward) and the dense layer's input gradient; the
    # first layer's input gradient (another CONV) is not computed: the images need no gradient
    assert counts["gradient"] == TINY_FORWARD + CONV + 2 * DENSE == 3 * TINY_FORWARD - CONV
    assert counts["input_gradient"] == 2 * TINY_FORWARD      # every input gradient, no weight gradient


def test_counts_are_per_image_whatever_the_batch():
    assert flops.pass_flops_per_image(tiny_conv_net(), (3, 8, 8), batch=5) == \
        flops.pass_flops_per_image(tiny_conv_net(), (3, 8, 8))


def test_mean_teacher_is_3x_plus_1x_forward_of_the_tiny_net():
    costs = flops.pass_flops_per_image(tiny_conv_net(), (3, 8, 8))
    mt = flops.training_flops_per_image(RunConfig(method="mean_teacher"), pass_flops=costs)
    # teacher forward (1x) + student forward and backward (3x), less the first layer's input gradient
    assert mt == 1 * TINY_FORWARD + 3 * TINY_FORWARD - CONV == 51_712
    pi = flops.training_flops_per_image(RunConfig(method="pi"), pass_flops=costs)
    assert pi == 2 * (3 * TINY_FORWARD - CONV)
    for method in ("supervised", "temporal_ensembling"):
        assert flops.training_flops_per_image(RunConfig(method=method), pass_flops=costs) == 3 * TINY_FORWARD - CONV


def test_convnet13_forward_by_hand():
    conv = lambda cin, cout, k, side: 2 * cin * k * k * cout * side * side
    by_hand = (conv(3, 128, 3, 32) + 2 * conv(128, 128, 3, 32) + conv(128, 256, 3, 16) + 2 * conv(256, 256, 3, 16)
               + conv(256, 512, 3, 6) + conv(512, 256, 1, 6) + conv(256, 128, 1, 6) + 2 * 128 * 10)
    cfg = RunConfig(arch="convnet13", convnet_norm="weightnorm", image_size=32)
    counts = flops.network_pass_flops(cfg)
    assert counts["forward"] == flops.forward_flops_per_image(cfg) == by_hand == 1_462_766_080
    assert counts["gradient"] == 3 * by_hand - conv(3, 128, 3, 32)
    assert counts["input_gradient"] == 2 * by_hand
    # batch norm and weight norm: the same convolutions; the width scales the channels
    assert flops.forward_flops_per_image(cfg.replace(convnet_norm="batchnorm")) == by_hand
    assert flops.forward_flops_per_image(cfg.replace(image_size=16)) < by_hand / 3


def test_resnet26_counts():
    cfg = RunConfig(arch="resnet26_shakeshake", two_heads=True, dropout=0.0)
    counts = flops.network_pass_flops(cfg)
    assert 7.5e9 < counts["forward"] < 7.6e9           # about 5 times the ConvNet-13's
    assert counts["gradient"] == pytest.approx(3 * counts["forward"], rel=0.01)


def test_method_passes_per_method():
    expect = {"supervised": (0, 1, 0), "pi": (0, 2, 0), "temporal_ensembling": (0, 1, 0), "mean_teacher": (1, 1, 0),
              "vat": (1, 2, 1), "mean_teacher_vat": (2, 2, 1)}
    assert set(expect) == set(flops.METHODS) == set(METHOD_CLASSES)   # every method is counted
    for method, counts in expect.items():
        assert flops.method_passes(method) == dict(zip(flops.PASS_KINDS, counts))
    assert flops.method_passes("vat", bf16=False) == {"forward": 0, "gradient": 2, "input_gradient": 1}
    assert flops.method_passes("mean_teacher_vat", "teacher", 2) == {"forward": 1, "gradient": 1, "input_gradient": 2}


def method_under_count(method, **changes):
    torch.manual_seed(0)
    cfg = RunConfig(method=method, arch="convnet13", width=1 / 16, image_size=16, steps=10, rampup_steps=0,
                    rampdown_steps=0, **changes)
    student = build_model(cfg)
    teacher = ema_lib.make_teacher(student)
    augment = Augment(translate=cfg.translate, flip=cfg.flip, input_noise=cfg.input_noise)
    m = make_method(method, student, teacher, cfg, augment, torch.Generator().manual_seed(1), n_train=8, num_classes=10)
    return cfg, m, student


@pytest.mark.parametrize("method, changes, bf16", [
    ("supervised", {}, False), ("pi", {}, False), ("temporal_ensembling", {}, False), ("mean_teacher", {}, False),
    ("vat", {}, False), ("vat", {}, True), ("mean_teacher_vat", {}, False), ("mean_teacher_vat", {}, True),
    ("mean_teacher_vat", {"vat_target": "teacher"}, False), ("vat", {"vat_power_iterations": 2}, False)])
def test_estimate_equals_what_the_method_computes(method, changes, bf16):
    """The passes of method_passes, at their measured costs, are the FLOPs of the method's loss and its
    backward pass on a batch, counted as they run (a one-head ConvNet-13 at width 1/16, 16x16)."""
    cfg, m, student = method_under_count(method, **changes)
    costs = flops.pass_flops_per_image(student, (3, 16, 16))
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([1, NO_LABEL, 3, NO_LABEL])
    with FlopCounterMode(display=False) as counter, torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss, _ = m.loss(x, labels, torch.arange(4), step=0, weight=1.0)
        loss.backward()
    assert counter.get_total_flops() == 4 * flops.training_flops_per_image(cfg, bf16=bf16, pass_flops=costs)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="method='fixmatch' is unknown; choose one of 'supervised'"):
        flops.method_passes("fixmatch")
    with pytest.raises(ValueError, match="vat_power_iterations=0 must be an integer >= 1"):
        flops.method_passes("vat", vat_power_iterations=0)
    with pytest.raises(ValueError, match="vat_target='teacher' needs method='mean_teacher_vat'"):
        flops.method_passes("vat", vat_target="teacher")
    with pytest.raises(ValueError, match="bf16=1 must be True or False"):
        flops.method_passes("vat", bf16=1)
    for rate in (0, -5, float("inf"), "100"):
        with pytest.raises(ValueError, match=r"sustained_tflops=.* must be a finite number > 0"):
            flops.gpu_hours(1e15, rate)
    for rate in (0, "100"):
        with pytest.raises(ValueError, match=r"sustained_tflops=.* must be a finite number > 0"):
            tables.preset_cost([], sustained_tflops=rate)


def test_gpu_hours_and_run_total():
    assert flops.gpu_hours(3.6e17, 100) == pytest.approx(1.0)      # 100 TFLOP/s for an hour
    cfg = RunConfig(method="mean_teacher", steps=7, batch_size=3, rampup_steps=0, rampdown_steps=0)
    assert flops.training_flops(cfg) == 7 * 3 * flops.training_flops_per_image(cfg)


def test_preset_cost_and_training_flops_table():
    from mtlib.reproduce.presets import get_preset
    table4 = get_preset("table4-resnet")
    runs = list(table4.runs())
    cost = tables.preset_cost([table4], sustained_tflops=50)
    total = sum(r.config["steps"] * r.config["batch_size"] * flops.training_flops_per_image(r.config) for r in runs)
    assert cost.loc["table4-resnet", "training PFLOP"] == round(total / 1e15)
    assert cost.loc["table4-resnet", "GPU hours at 50 TFLOP/s (assumed)"] == round(total / 50e12 / 3600, 1)
    assert list(tables.preset_cost([table4]).columns)[1] == "GPU hours at 100 TFLOP/s (assumed)"   # the default
    per_image = tables.training_flops_table([table4, get_preset("table2-cifar10")])
    line = per_image.loc[("ResNet-26 shake-shake, two heads", "Mean Teacher")]
    assert line["× forward"] == pytest.approx(4.0, abs=0.01)
    assert per_image.loc[("ConvNet-13", "Π model"), "× forward"] == pytest.approx(6.0, abs=0.02)
    assert per_image.loc[("ConvNet-13", "Mean Teacher"), "forward GFLOP per image"] == 1.463
