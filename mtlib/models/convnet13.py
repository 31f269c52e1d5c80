"""The 13-layer ConvNet of the paper's Tables 1-3 and Figures 3-4 (paper Table 5, App. B; the book's
settings page).

Layers: 3 x conv3x3-128, maxpool 2, dropout; 3 x conv3x3-256, maxpool 2, dropout; conv3x3-512 (valid),
conv1x1-256, conv1x1-128; global average pool (6x6 for 32x32 input); dense. LeakyReLU(0.1) after every
conv. ``norm="weightnorm"`` is the authors' normalisation (weight normalisation + mean-only batch
norm on every conv and on the dense heads, ``mtlib.models.weight_norm``; the paper presets' default);
``norm="batchnorm"`` follows every conv with standard ``BatchNorm2d`` and uses a plain linear head
(the book's CPU scale). Convs carry no bias of their own in either.
Input noise (translation, flip, Gaussian) is applied outside the model.

Dropout is ``torch.nn.Dropout`` and draws from torch's global RNG (``torch.manual_seed``).
"""
import torch
import torch.nn as nn

from mtlib.checks import check_choice, check_int, is_number
from mtlib.models.weight_norm import MeanOnlyBatchNorm, wn_layer

NORMS = ("batchnorm", "weightnorm")


def check_dropout(dropout):
    if not (is_number(dropout) and 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout={dropout!r} is not allowed; choose 0 <= dropout < 1 (the paper uses 0.5)")


def scaled(channels, width):
    """round(channels * width), at least 1."""
    return max(1, int(round(channels * width)))


class ConvNet13(nn.Module):
    """The paper's 13-layer ConvNet; ``width`` scales every channel count, ``two_heads`` adds the
    consistency head of Sec. 3.4 / Fig. 4(e) and makes ``forward`` return (class_logits, consistency_logits)."""

    BASE_CHANNELS = (128, 256, 512, 256, 128)

    def __init__(self, num_classes=10, width=1.0, dropout=0.5, two_heads=False, in_channels=3, norm="batchnorm"):
        super().__init__()
        check_choice("norm", norm, NORMS)
        self.norm = norm
        check_int("num_classes", num_classes, low=1)
        check_int("in_channels", in_channels, low=1)
        if not (is_number(width) and width > 0):
            raise ValueError(f"width={width!r} is not allowed; choose width > 0 (1.0 is the paper's network)")
        check_dropout(dropout)
        self.num_classes, self.width, self.dropout, self.two_heads = num_classes, float(width), float(dropout), bool(two_heads)
        c1, c2, c3, c4, c5 = (scaled(c, width) for c in self.BASE_CHANNELS)
        self.channels = (c1, c2, c3, c4, c5)

        def block(cin, cout, k, padding):
            conv = nn.Conv2d(cin, cout, k, padding=padding, bias=False)
            if norm == "weightnorm":
                return [wn_layer(conv), MeanOnlyBatchNorm(cout), nn.LeakyReLU(0.1)]
            return [conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)]

        def head():
            if norm == "weightnorm":   # the TF code's dense heads: logits centred on their batch mean in training
                return nn.Sequential(wn_layer(nn.Linear(c5, num_classes, bias=False)), MeanOnlyBatchNorm(num_classes))
            return nn.Linear(c5, num_classes)

        layers = block(in_channels, c1, 3, 1) + block(c1, c1, 3, 1) + block(c1, c1, 3, 1)
        layers += [nn.MaxPool2d(2, 2), nn.Dropout(dropout)]
        layers += block(c1, c2, 3, 1) + block(c2, c2, 3, 1) + block(c2, c2, 3, 1)
        layers += [nn.MaxPool2d(2, 2), nn.Dropout(dropout)]
        layers += block(c2, c3, 3, 0) + block(c3, c4, 1, 0) + block(c4, c5, 1, 0)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # 6x6 -> 1 for 32x32 input
        self.fc1 = head()
        self.fc2 = head() if self.two_heads else None

    def forward(self, x):
        h = torch.flatten(self.pool(self.features(x)), 1)
        if self.two_heads:
            return self.fc1(h), self.fc2(h)
        return self.fc1(h)
