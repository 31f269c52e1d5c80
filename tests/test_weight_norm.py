"""The authors' normalisation of ConvNet-13: weight normalisation + mean-only batch norm, pinned by hand."""
import pytest
import torch
from torch import nn

from mtlib.config import RunConfig
from mtlib.models import ConvNet13, build_model
from mtlib.models.weight_norm import (EVAL_MEAN_DECAY, MeanOnlyBatchNorm, data_dependent_init, has_weight_norm,
                                      weight_normed_layers, wn_layer)


def test_training_mode_removes_the_batch_mean_and_keeps_the_variance():
    layer = MeanOnlyBatchNorm(2)
    x = torch.tensor([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])     # channel means 3 and 30
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.5, -1.0]))
    y = layer(x)
    assert torch.allclose(y, torch.tensor([[-1.5, -21.0], [0.5, -11.0], [2.5, 29.0]]))
    assert torch.allclose((y - layer.bias).mean(0), torch.zeros(2))
    assert torch.allclose(y.var(0), x.var(0))                      # no division by a variance
    # eval mean: 0 -> 0 - (1 - 0.999) (0 - m) = 0.001 m
    assert EVAL_MEAN_DECAY == 0.999
    assert torch.allclose(layer.eval_mean, torch.tensor([0.003, 0.03]))
    layer(x + 1.0)                                                 # means 4 and 31
    assert torch.allclose(layer.eval_mean, torch.tensor([0.999 * 0.003 + 0.001 * 4, 0.999 * 0.03 + 0.001 * 31]))


def test_conv_input_means_are_per_channel_over_batch_and_space():
    layer = MeanOnlyBatchNorm(2)
    x = torch.zeros(2, 2, 1, 2)
    x[:, 0] = torch.tensor([[[1.0, 3.0]], [[5.0, 7.0]]])           # channel 0 mean 4
    x[:, 1] = 2.0                                                  # channel 1 mean 2
    y = layer(x)
    assert torch.allclose(y[:, 0].flatten(), torch.tensor([-3.0, -1.0, 1.0, 3.0])) and (y[:, 1] == 0).all()


def test_evaluation_mode_subtracts_the_eval_mean_and_does_not_update_it():
    layer = MeanOnlyBatchNorm(2).eval()
    with torch.no_grad():
        layer.eval_mean.copy_(torch.tensor([1.0, -2.0]))
        layer.bias.copy_(torch.tensor([0.25, 0.0]))
    y = layer(torch.tensor([[1.0, 1.0], [3.0, 5.0]]))
    assert torch.allclose(y, torch.tensor([[0.25, 3.0], [2.25, 7.0]]))
    assert torch.equal(layer.eval_mean, torch.tensor([1.0, -2.0]))


def test_fp32_input_gives_the_formula_bit_for_bit_in_both_modes():
    torch.manual_seed(0)
    layer = MeanOnlyBatchNorm(3)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    x = torch.randn(4, 3, 5, 5) * 3 + 1
    mean = x.mean(dim=[0, 2, 3])
    expected = x - mean.reshape(1, -1, 1, 1) + layer.bias.reshape(1, -1, 1, 1)     # the formula before
    assert torch.equal(layer(x), expected)
    assert torch.equal(layer.eval_mean, torch.zeros(3).lerp_(mean, 1 - EVAL_MEAN_DECAY))
    layer.eval()
    assert torch.equal(layer(x), x - layer.eval_mean.reshape(1, -1, 1, 1) + layer.bias.reshape(1, -1, 1, 1))


def test_bf16_input_is_centred_and_tracked_in_fp32():
    torch.manual_seed(0)
    layer, reference = MeanOnlyBatchNorm(3), MeanOnlyBatchNorm(3)
    x = (torch.randn(8, 3, 4, 4) * 2 + 5).bfloat16()
    y, y_fp32 = layer(x), reference(x.float())          # the same values, one of them in fp32
    assert torch.equal(layer.eval_mean, reference.eval_mean)   # the update of the fp32 computation
    assert y.dtype == torch.float32 and torch.equal(y, y_fp32)
    # the bf16 arithmetic this replaces rounds the batch mean (and the centred values) to bf16
    bf16_mean = x.mean(dim=[0, 2, 3]).float()
    assert not torch.equal(torch.zeros(3).lerp_(bf16_mean, 1 - EVAL_MEAN_DECAY), layer.eval_mean)
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):   # conv (bf16) -> centring (fp32) -> conv (bf16 again)
        h = conv(torch.randn(2, 3, 4, 4))
        assert h.dtype == torch.bfloat16 and layer(h).dtype == torch.float32
        assert conv(layer(h)).dtype == torch.bfloat16


def test_effective_weight_has_norm_g_per_output_channel():
    conv = wn_layer(nn.Conv2d(3, 4, 3, bias=False))
    g = torch.tensor([0.5, 1.0, 2.0, 3.0])
    with torch.no_grad():
        conv.parametrizations.weight.original0.copy_(g.reshape(4, 1, 1, 1))
    assert torch.allclose(conv.weight.flatten(1).norm(dim=1), g)
    v = conv.parametrizations.weight.original1
    assert torch.allclose(conv.weight, g.reshape(4, 1, 1, 1) * v / v.flatten(1).norm(dim=1).reshape(4, 1, 1, 1))
    assert 0.04 < v.std().item() < 0.06                            # V ~ N(0, 0.05)


def _pre_activations(model, x):
    """Outputs of every MeanOnlyBatchNorm (the pre-activations) in one training-mode pass."""
    seen = []
    handles = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in model.modules()
               if isinstance(m, MeanOnlyBatchNorm)]
    model(x)
    for h in handles:
        h.remove()
    return seen


def test_data_dependent_init_gives_mean_0_std_1_on_its_batch():
    torch.manual_seed(0)
    model = ConvNet13(num_classes=4, width=1 / 16, dropout=0.0, norm="weightnorm", two_heads=True)
    x = torch.randn(32, 3, 16, 16) * 3 + 1
    assert data_dependent_init(model, x) == 9 + 2                  # 9 convs, 2 dense heads
    assert all((m.eval_mean == 0).all() for m in model.modules() if isinstance(m, MeanOnlyBatchNorm))
    with torch.no_grad():
        outs = _pre_activations(model.train(), x)
    assert len(outs) == 11
    for out in outs:
        dims = [d for d in range(out.dim()) if d != 1]
        assert torch.allclose(out.mean(dim=dims), torch.zeros(out.shape[1]), atol=1e-4)
        assert torch.allclose(out.std(dim=dims, unbiased=False), torch.ones(out.shape[1]), atol=1e-3)


def test_dense_logits_are_centred_over_the_batch_in_training_mode():
    torch.manual_seed(1)
    model = ConvNet13(num_classes=5, width=1 / 16, norm="weightnorm")
    with torch.no_grad():
        model.fc1[1].bias.copy_(torch.arange(5.0))
    logits = model.train()(torch.randn(8, 3, 32, 32))
    assert torch.allclose(logits.mean(0), torch.arange(5.0), atol=1e-5)
    with torch.no_grad():     # evaluation: the eval mean, not the batch mean, is subtracted
        model.fc1[1].eval_mean.copy_(torch.tensor([1.0, -1.0, 0.5, 0.0, 2.0]))
    model.eval()
    x = torch.randn(8, 3, 32, 32)
    h = torch.flatten(model.pool(model.features(x)), 1)
    expected = model.fc1[0](h) - model.fc1[1].eval_mean + torch.arange(5.0)
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_norm_option_builds_either_network_and_rejects_others():
    wn = build_model(RunConfig(convnet_norm="weightnorm", width=0.125))
    bn = build_model(RunConfig(width=0.125))
    assert has_weight_norm(wn) and len(weight_normed_layers(wn)) == 10    # 9 convs + 1 dense head
    assert not has_weight_norm(bn) and any(isinstance(m, nn.BatchNorm2d) for m in bn.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in wn.modules())
    assert wn(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="convnet_norm='layernorm'.*batchnorm.*weightnorm"):
        RunConfig(convnet_norm="layernorm")
    with pytest.raises(ValueError, match="norm"):
        ConvNet13(norm="nope")


def _tiny_trainer(method, **kw):
    from test_trainer import tiny_cfg, tiny_data
    from mtlib.training.trainer import Trainer
    return Trainer(tiny_cfg(method=method, convnet_norm="weightnorm", **kw), tiny_data())


@pytest.mark.parametrize("method, own", [("mean_teacher", True), ("supervised", False), ("pi", False)])
def test_teacher_keeps_its_own_eval_means_other_ema_models_average_them(method, own):
    trainer = _tiny_trainer(method, steps=6)
    means = lambda model: [m.eval_mean.clone() for m in model.modules() if isinstance(m, MeanOnlyBatchNorm)]
    before_ema, decay = means(trainer.ema), trainer.cfg.ema_decay
    trainer.train_step()
    averaged = [decay * e + (1 - decay) * s for e, s in zip(before_ema, means(trainer.student))]
    matches = all(torch.allclose(a, b, atol=1e-7) for a, b in zip(averaged, means(trainer.ema)))
    assert matches is not own
    if own:     # the teacher's own pass moved its eval means: 0.001 x its batch means, from 0
        assert all((m != 0).any() for m in means(trainer.ema))


def test_trainer_initialises_from_data_before_copying_the_teacher():
    trainer = _tiny_trainer("mean_teacher", steps=6)
    g = [l.parametrizations.weight.original0 for l in weight_normed_layers(trainer.student)]
    g_teacher = [l.parametrizations.weight.original0 for l in weight_normed_layers(trainer.ema)]
    assert all(torch.equal(a, b) for a, b in zip(g, g_teacher))
    assert not all(torch.allclose(a.flatten(), torch.ones_like(a.flatten())) for a in g)   # set from data
    again = _tiny_trainer("mean_teacher", steps=6)          # seeded: the same initialisation
    assert all(torch.equal(a, l.parametrizations.weight.original0)
               for a, l in zip(g, weight_normed_layers(again.student)))
