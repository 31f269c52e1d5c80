"""Tests for mtlib.models: shapes, parameter counts, two heads, channels_last, dropout, shake-shake."""
import copy

import pytest
import torch
import torch.nn as nn

from mtlib.models import (ConvNet13, ResNet26ShakeShake, ShakeShakeBlock, ShakeShakeFunction, ToyNet,
                          build_model, count_parameters, shake_shake)

TINY = 0.125


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread avoids thread oversubscription on the shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _x(n=2, seed=0, size=32):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _tiny_resnet(**kw):
    return ResNet26ShakeShake(widths=(8, 16, 32), blocks_per_stage=1, **kw)


# ---------------------------------------------------------------- ConvNet13
@pytest.mark.parametrize("width", [1.0, 0.25])
def test_convnet13_output_shape(width):
    m = ConvNet13(width=width).eval()
    with torch.no_grad():
        assert m(_x(2)).shape == (2, 10)


def test_convnet13_feature_map_is_6x6_before_pooling():
    m = ConvNet13(width=TINY).eval()
    with torch.no_grad():
        assert m.features(_x(1)).shape == (1, m.channels[-1], 6, 6)


def test_convnet13_parameter_count_width1():
    # Convs have no bias (BatchNorm follows); each BN has weight + bias (2 c); dense has weight + bias.
    convs = (3 * 128 * 9 + 2 * 128 * 128 * 9          # 3 x conv3x3-128:   3,456 + 294,912
             + 128 * 256 * 9 + 2 * 256 * 256 * 9      # 3 x conv3x3-256:   294,912 + 1,179,648
             + 256 * 512 * 9                          # conv3x3-512 valid: 1,179,648
             + 512 * 256 + 256 * 128)                 # conv1x1-256, -128: 131,072 + 32,768  -> 3,116,416
    bns = 2 * (3 * 128 + 3 * 256 + 512 + 256 + 128)   # 4,096
    dense = 128 * 10 + 10                             # 1,290
    assert convs + bns + dense == 3_121_802
    assert count_parameters(ConvNet13(width=1.0)) == 3_121_802
    # width 0.25: channels 32/64/128/64/32 -> 195,424 conv + 1,024 BN + 330 dense
    assert count_parameters(ConvNet13(width=0.25)) == 196_778
    # the second head adds one more dense layer
    assert count_parameters(ConvNet13(width=0.25, two_heads=True)) == 196_778 + 330


def test_convnet13_two_heads():
    m = ConvNet13(width=TINY, two_heads=True, num_classes=7).eval()
    with torch.no_grad():
        out = m(_x(3))
    assert isinstance(out, tuple) and len(out) == 2
    assert out[0].shape == (3, 7) and out[1].shape == (3, 7)
    assert not torch.allclose(out[0], out[1])


def test_convnet13_channels_scale_with_width():
    def conv_channels(m):
        return [c.out_channels for c in m.modules() if isinstance(c, nn.Conv2d)]
    assert conv_channels(ConvNet13(width=1.0)) == [128] * 3 + [256] * 3 + [512, 256, 128]
    assert conv_channels(ConvNet13(width=0.5)) == [64] * 3 + [128] * 3 + [256, 128, 64]
    assert ConvNet13(width=0.25).channels == (32, 64, 128, 64, 32)
    assert ConvNet13(width=1e-4).channels == (1, 1, 1, 1, 1)


def test_convnet13_channels_last_matches_contiguous():
    torch.manual_seed(0)
    m = ConvNet13(width=TINY).eval()
    x = _x(2)
    with torch.no_grad():
        ref = m(x)
        out_cl_input = m(x.contiguous(memory_format=torch.channels_last))
        m_cl = copy.deepcopy(m).to(memory_format=torch.channels_last)
        out_cl_both = m_cl(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, out_cl_input, atol=1e-5)
    assert torch.allclose(ref, out_cl_both, atol=1e-5)


def test_convnet13_dropout_train_vs_eval():
    m = ConvNet13(width=TINY, dropout=0.5)
    x = _x(2)
    with torch.no_grad():
        m.train()
        assert not torch.allclose(m(x), m(x))
        m.eval()
        assert torch.equal(m(x), m(x))
        # no dropout: train mode (batch-stat BN) is deterministic too
        m0 = ConvNet13(width=TINY, dropout=0.0).train()
        assert torch.equal(m0(x), m0(x))


def test_convnet13_dropout_draws_from_the_global_rng():
    x = _x(2)
    m = ConvNet13(width=TINY).train()
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        with torch.no_grad():
            outs.append(m(x))
    assert torch.equal(outs[0], outs[1])
    assert all(type(l) is nn.Dropout for l in m.modules() if "Dropout" in type(l).__name__)


@pytest.mark.parametrize("kw, name", [({"width": 0}, "width"), ({"width": -1.0}, "width"),
                                      ({"dropout": 1.0}, "dropout"), ({"dropout": -0.1}, "dropout"),
                                      ({"num_classes": 0}, "num_classes")])
def test_convnet13_validates(kw, name):
    with pytest.raises(ValueError, match=name):
        ConvNet13(**kw)


# ---------------------------------------------------------------- ResNet-26 Shake-Shake
def test_resnet_shapes_and_heads():
    m = _tiny_resnet().eval()
    with torch.no_grad():
        out = m(_x(2))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 10), (2, 10)]
    m1 = _tiny_resnet(two_heads=False, num_classes=4).eval()
    with torch.no_grad():
        assert m1(_x(2)).shape == (2, 4)


def test_resnet_full_size_structure():
    m = ResNet26ShakeShake()
    blocks = [b for b in m.modules() if isinstance(b, ShakeShakeBlock)]
    assert len(blocks) == 12
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3)]
    assert len(convs) == 1 + 12 * 4  # stem + 2 branches x 2 convs per block (26 layers counts one branch)
    assert m.fc1.in_features == 384
    # BN: 4 per block (2 per branch) + the 3 shortcuts that change shape (1x1 conv into stage 1,
    # shift_conv into stages 2 and 3); none on the stem
    assert sum(isinstance(b, nn.BatchNorm2d) for b in m.modules()) == 12 * 4 + 3


def test_resnet_stem_is_a_bare_conv_as_the_authors_cifar_shakeshake26():
    """The reference (pytorch/mean_teacher/architectures.py, ResNet32x32): conv1 3->16, no BN, no ReLU."""
    m = ResNet26ShakeShake()
    assert isinstance(m.stem, nn.Conv2d) and not list(m.stem.children())
    assert (m.stem.in_channels, m.stem.out_channels, m.stem.kernel_size, m.stem.bias) == (3, 16, (3, 3), None)
    x = _x(2)
    assert torch.equal(m.stem(x), nn.functional.conv2d(x, m.stem.weight, padding=1))
    first = m.blocks[0]
    assert isinstance(first.shortcut[0], nn.Conv2d) and first.shortcut[0].kernel_size == (1, 1)   # 16 -> 96
    assert [type(s).__name__ for s in (m.blocks[4].shortcut, m.blocks[8].shortcut)] == ["ShiftConvDownsample"] * 2


def test_resnet_parameter_count_by_hand():
    """Counted by hand: stem 3*16*9; per branch conv-BN-conv-BN; 1x1 shortcut 16->96 + BN; two grouped
    1x1 shift convs (192->192, 384->384 in 2 groups) + BN; two heads 384*10 + 10."""
    def branch(cin, cout):
        return cin * cout * 9 + 2 * cout + cout * cout * 9 + 2 * cout
    stem = 3 * 16 * 9
    stage1 = 2 * branch(16, 96) + (16 * 96 + 2 * 96) + 3 * 2 * branch(96, 96)
    stage2 = 2 * branch(96, 192) + (192 * 96 + 2 * 192) + 3 * 2 * branch(192, 192)
    stage3 = 2 * branch(192, 384) + (384 * 192 + 2 * 384) + 3 * 2 * branch(384, 384)
    heads = 2 * (384 * 10 + 10)
    assert stem + stage1 + stage2 + stage3 + heads == 26_196_740
    assert count_parameters(ResNet26ShakeShake()) == 26_196_740
    assert count_parameters(ResNet26ShakeShake(two_heads=False)) == 26_196_740 - 3850


def test_resnet_pools_the_last_block_without_a_relu():
    """Eval logits = fc1(mean over H, W of blocks(stem(x))): no ReLU between the last block and the pool,
    so the pooled features can be negative (with a ReLU they never would be)."""
    m = _tiny_resnet().eval()
    x = _x(4, size=16)
    with torch.no_grad():
        feats = m.blocks(m.stem(x)).mean(dim=(2, 3))
        out1, out2 = m(x)
    assert torch.allclose(out1, m.fc1(feats), atol=1e-6) and torch.allclose(out2, m.fc2(feats), atol=1e-6)
    assert (feats < 0).any()


def test_resnet_eval_deterministic_train_varies_with_rng():
    x = _x(4, size=16)
    m = _tiny_resnet()
    with torch.no_grad():
        m.eval()
        assert torch.equal(m(x)[0], m(x)[0])
        m.train()
        a, b = m(x)[0], m(x)[0]
        assert not torch.allclose(a, b)
        torch.manual_seed(3)
        c = m(x)[0]
        torch.manual_seed(3)
        assert torch.equal(c, m(x)[0])


def test_shake_function_backward_uses_beta_not_alpha():
    # a = 1, b = 0 per image: the forward output IS alpha, the gradient on a IS beta.
    a = torch.ones(8, 1, 1, 1, requires_grad=True)
    b = torch.zeros(8, 1, 1, 1, requires_grad=True)
    torch.manual_seed(0)
    out = shake_shake(a, b, training=True)
    out.sum().backward()
    alpha, beta = out.detach(), a.grad
    torch.manual_seed(0)
    assert torch.allclose(alpha, torch.rand(8, 1, 1, 1))
    assert torch.allclose(beta, torch.rand(8, 1, 1, 1))
    assert not torch.allclose(beta, alpha)                # would fail if beta == alpha
    assert torch.allclose(a.grad + b.grad, torch.ones_like(a.grad))
    assert len(torch.unique(alpha)) == 8                  # one coefficient per image
    # eval: both coefficients are 0.5
    a.grad = b.grad = None
    shake_shake(a, b, training=False).sum().backward()
    assert torch.allclose(a.grad, torch.full_like(a, 0.5)) and torch.allclose(b.grad, torch.full_like(b, 0.5))


def test_shake_block_gradient_matches_beta_not_alpha():
    torch.manual_seed(0)
    block = ShakeShakeBlock(4, 4).train()
    x = torch.randn(3, 4, 6, 6, generator=torch.Generator().manual_seed(1))

    def input_grad(mix):
        xi = x.clone().requires_grad_(True)
        (block.shortcut(xi) + mix(block.branch_a(xi), block.branch_b(xi))).pow(2).sum().backward()
        return xi.grad

    xi = x.clone().requires_grad_(True)
    torch.manual_seed(7)
    block(xi).pow(2).sum().backward()
    torch.manual_seed(7)
    alpha, beta = torch.rand(3, 1, 1, 1), torch.rand(3, 1, 1, 1)
    with_beta = input_grad(lambda a, b: ShakeShakeFunction.apply(a, b, alpha, beta))
    with_alpha = input_grad(lambda a, b: alpha * a + (1 - alpha) * b)
    assert torch.allclose(xi.grad, with_beta, atol=1e-5)
    assert not torch.allclose(xi.grad, with_alpha, atol=1e-3)


def test_resnet_gradients_flow():
    m = _tiny_resnet().train()
    out1, out2 = m(_x(2, size=16))
    (out1.sum() + out2.sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_resnet_validates():
    with pytest.raises(ValueError, match="widths"):
        ResNet26ShakeShake(widths=(8, 16))
    with pytest.raises(ValueError, match="blocks_per_stage"):
        ResNet26ShakeShake(blocks_per_stage=0)


# ---------------------------------------------------------------- ToyNet
def test_toynet_shapes():
    m = ToyNet(hidden=8, depth=3)
    assert m(torch.randn(5, 1)).shape == (5, 2)
    assert m(torch.randn(5)).shape == (5, 2)
    assert len([l for l in m.modules() if isinstance(l, nn.Linear)]) == 4
    with pytest.raises(ValueError, match="x.shape"):
        m(torch.randn(5, 3))


def test_toynet_dropout():
    m = ToyNet(hidden=16, dropout=0.5)
    x = torch.linspace(-1, 1, 10).unsqueeze(1)
    with torch.no_grad():
        assert not torch.equal(m.train()(x), m(x))
        assert torch.equal(m.eval()(x), m(x))
    with pytest.raises(ValueError, match="hidden"):
        ToyNet(hidden=0)
    with pytest.raises(ValueError, match="dropout"):
        ToyNet(dropout=1.5)


# ---------------------------------------------------------------- build_model / count_parameters
def test_build_model():
    assert isinstance(build_model("convnet13", width=TINY), ConvNet13)
    assert build_model("convnet13", num_classes=3, width=TINY).fc1.out_features == 3
    r = build_model("resnet26_shakeshake", widths=(8, 16, 32), blocks_per_stage=1)
    assert isinstance(r, ResNet26ShakeShake) and r.two_heads
    t = build_model("toy", hidden=4)
    assert isinstance(t, ToyNet) and t.net[-1].out_features == 2


def test_build_model_errors_name_parameter():
    with pytest.raises(ValueError, match=r"arch='x' is unknown; choose one of .*convnet13"):
        build_model("x")
    with pytest.raises(ValueError, match="width"):
        build_model("convnet13", width=0)
    with pytest.raises(TypeError):
        build_model("toy", widths=(1, 2, 3))


def test_count_parameters_trainable_only():
    m = ToyNet(hidden=4, depth=1)  # (1*4 + 4) + (4*2 + 2) = 18
    assert count_parameters(m) == 18
    m.net[0].weight.requires_grad_(False)
    assert count_parameters(m, trainable_only=True) == 14
