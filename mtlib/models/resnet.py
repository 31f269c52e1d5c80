"""ResNet-26 with Shake-Shake regularisation (Gastaldi 2017), the network of the paper's Table 4 / Sec. 3.5,
laid out as the authors' PyTorch ``cifar_shakeshake26`` (CuriousAI/mean-teacher,
``pytorch/mean_teacher/architectures.py``; the book's Settings and their sources page, book/settings.md).

Stem: one conv3x3-16, with no batch norm and no ReLU after it (as the reference's ``ResNet32x32``);
3 stages x ``blocks_per_stage`` shake-shake blocks of widths 96 / 192 / 384 (stride 2 at the start of
stages 2 and 3); global average pool straight after the last block (no ReLU before it, as the
reference); one or two dense heads.
Each block has two residual branches ReLU-conv3x3-BN-ReLU-conv3x3-BN, mixed as
alpha * a + (1 - alpha) * b with a per-image alpha ~ U(0, 1) in the forward pass and an independent
per-image beta ~ U(0, 1) replacing alpha in the backward pass ("shake-shake-image"); eval uses 0.5 for both.

Shortcuts: identity when shape is kept; where the channel count changes at stride 1 (stem -> stage 1),
1x1 conv + BN; at stride 2 the shake-shake downsampling of the authors' code ("shift_conv"):
concatenate x[:, :, 0::2, 0::2] and the one-pixel-shifted x[:, :, 1::2, 1::2], ReLU, a grouped
(2 groups) 1x1 conv, BN. (The reference's grouped conv also has a bias; batch norm right after it
removes any per-channel constant, so it is left out here.)
Random coefficients come from torch's global RNG (``torch.manual_seed``).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mtlib.checks import check_int


class ShakeShakeFunction(torch.autograd.Function):
    """out = alpha a + (1 - alpha) b forward; grad_a = beta g, grad_b = (1 - beta) g backward."""

    @staticmethod
    def forward(ctx, a, b, alpha, beta):
        ctx.save_for_backward(beta)
        return alpha * a + (1.0 - alpha) * b

    @staticmethod
    def backward(ctx, grad_out):
        (beta,) = ctx.saved_tensors
        return beta * grad_out, (1.0 - beta) * grad_out, None, None


def shake_shake(a, b, training):
    """Mix two branch outputs (N, C, H, W): random per-image alpha/beta when training, 0.5 otherwise."""
    if not training:
        return 0.5 * (a + b)
    shape = (a.shape[0],) + (1,) * (a.dim() - 1)
    alpha = torch.rand(shape, device=a.device, dtype=a.dtype)
    beta = torch.rand(shape, device=a.device, dtype=a.dtype)
    return ShakeShakeFunction.apply(a, b, alpha, beta)


def _conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class ShiftConvDownsample(nn.Module):
    """Stride-2 shake-shake shortcut: two offset subsamplings, ReLU, grouped 1x1 conv, BN."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"widths give out_channels={out_channels} for a stride-2 shortcut; it must be even")
        self.conv = nn.Conv2d(2 * in_channels, out_channels, 1, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        x = torch.cat((x[:, :, 0::2, 0::2], x[:, :, 1::2, 1::2]), dim=1)
        return self.bn(self.conv(F.relu(x)))


class ShakeShakeBlock(nn.Module):
    """Two residual branches ReLU-conv3x3-BN-ReLU-conv3x3-BN mixed by shake-shake, plus a shortcut."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.branch_a = self._branch(in_channels, out_channels, stride)
        self.branch_b = self._branch(in_channels, out_channels, stride)
        if stride != 1:
            self.shortcut = ShiftConvDownsample(in_channels, out_channels)
        elif in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    @staticmethod
    def _branch(cin, cout, stride):
        return nn.Sequential(nn.ReLU(), _conv3x3(cin, cout, stride), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), _conv3x3(cout, cout), nn.BatchNorm2d(cout))

    def forward(self, x):
        mixed = shake_shake(self.branch_a(x), self.branch_b(x), self.training)
        return self.shortcut(x) + mixed


class ResNet26ShakeShake(nn.Module):
    """ResNet-26 Shake-Shake; ``two_heads`` (default, as in Table 4) returns (class_logits, consistency_logits)."""

    def __init__(self, num_classes=10, widths=(96, 192, 384), blocks_per_stage=4, two_heads=True,
                 in_channels=3, stem_channels=16):
        super().__init__()
        check_int("num_classes", num_classes, low=1)
        check_int("blocks_per_stage", blocks_per_stage, low=1)
        check_int("in_channels", in_channels, low=1)
        check_int("stem_channels", stem_channels, low=1)
        widths = tuple(widths) if isinstance(widths, (tuple, list)) else widths
        if (not isinstance(widths, tuple) or len(widths) != 3
                or any(isinstance(w, bool) or not isinstance(w, int) or w < 2 or w % 2 for w in widths)):
            raise ValueError(f"widths={widths!r} is not allowed; give 3 even integers >= 2, e.g. (96, 192, 384)")
        self.num_classes, self.widths, self.two_heads = num_classes, widths, bool(two_heads)
        self.stem = _conv3x3(in_channels, stem_channels)   # the reference: no BN, no ReLU on the stem
        blocks, cin = [], stem_channels
        for stage, cout in enumerate(widths):
            for i in range(blocks_per_stage):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(ShakeShakeBlock(cin, cout, stride))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)  # 8x8 -> 1 for 32x32 input
        self.fc1 = nn.Linear(cin, num_classes)
        self.fc2 = nn.Linear(cin, num_classes) if self.two_heads else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        h = self.blocks(self.stem(x))          # the reference pools the last block's sum directly (no ReLU)
        h = torch.flatten(self.pool(h), 1)
        if self.two_heads:
            return self.fc1(h), self.fc2(h)
        return self.fc1(h)
