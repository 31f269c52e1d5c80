"""The 13-layer ConvNet of the paper's Tables 1-3 and Figures 3-4 (paper-settings.md, "The 13-layer ConvNet").

Layers: 3 x conv3x3-128, maxpool 2, dropout; 3 x conv3x3-256, maxpool 2, dropout; conv3x3-512 (valid),
conv1x1-256, conv1x1-128; global average pool (6x6 for 32x32 input); dense. LeakyReLU(0.1) after every
conv. The authors' code uses weight normalisation + mean-only batch norm; here every conv is followed by
standard ``BatchNorm2d`` (an accepted substitute, paper-settings.md), so convs carry no bias.
Input noise (translation, flip, Gaussian) is applied outside the model.

Randomness: dropout draws its masks from an explicit ``torch.Generator`` when one is given (CONTRACTS.md);
with ``generator=None`` it falls back to torch's global RNG (``torch.manual_seed``).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GeneratorRef:
    """Holds a ``torch.Generator`` (or None). Deep copies share it, so an EMA teacher made by
    ``copy.deepcopy(student)`` draws fresh, independent noise from the same seeded stream instead of
    replaying the student's draws."""

    def __init__(self, generator=None):
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator={generator!r} is not a torch.Generator; pass a torch.Generator or None")
        self.generator = generator

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return f"GeneratorRef({'set' if self.generator is not None else 'global RNG'})"


def draw_uniform(shape, like, ref):
    """U(0, 1) samples of ``shape`` on ``like``'s device/dtype, from ``ref.generator`` if set, else global RNG."""
    g = ref.generator if ref is not None else None
    if g is None:
        return torch.rand(shape, device=like.device, dtype=like.dtype)
    return torch.rand(shape, generator=g, device=g.device).to(device=like.device, dtype=like.dtype)


class Dropout(nn.Module):
    """Inverted dropout whose mask comes from an explicit generator when one is set (else ``F.dropout``)."""

    def __init__(self, p=0.5, generator_ref=None):
        super().__init__()
        self.p = float(p)
        self.generator_ref = generator_ref if generator_ref is not None else GeneratorRef()

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.generator_ref.generator is None:
            return F.dropout(x, self.p, training=True)
        keep = draw_uniform(x.shape, x, self.generator_ref) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


def check_width(width):
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width={width!r} is not allowed; choose width > 0 (1.0 is the paper's network)")


def check_dropout(dropout):
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r} is not allowed; choose 0 <= dropout < 1 (the paper uses 0.5)")


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; choose an integer >= 1")


def scaled(channels, width):
    """round(channels * width), at least 1."""
    return max(1, int(round(channels * width)))


class ConvNet13(nn.Module):
    """The paper's 13-layer ConvNet; ``width`` scales every channel count, ``two_heads`` adds the
    consistency head of Sec. 3.4 / Fig. 4(e) and makes ``forward`` return (class_logits, consistency_logits)."""

    BASE_CHANNELS = (128, 256, 512, 256, 128)

    def __init__(self, num_classes=10, width=1.0, dropout=0.5, two_heads=False, in_channels=3, generator=None):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive_int("in_channels", in_channels)
        check_width(width)
        check_dropout(dropout)
        self.num_classes, self.width, self.dropout, self.two_heads = num_classes, float(width), float(dropout), bool(two_heads)
        self.generator_ref = GeneratorRef(generator)
        c1, c2, c3, c4, c5 = (scaled(c, width) for c in self.BASE_CHANNELS)
        self.channels = (c1, c2, c3, c4, c5)

        def block(cin, cout, k, padding):
            return [nn.Conv2d(cin, cout, k, padding=padding, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)]

        layers = block(in_channels, c1, 3, 1) + block(c1, c1, 3, 1) + block(c1, c1, 3, 1)
        layers += [nn.MaxPool2d(2, 2), Dropout(dropout, self.generator_ref)]
        layers += block(c1, c2, 3, 1) + block(c2, c2, 3, 1) + block(c2, c2, 3, 1)
        layers += [nn.MaxPool2d(2, 2), Dropout(dropout, self.generator_ref)]
        layers += block(c2, c3, 3, 0) + block(c3, c4, 1, 0) + block(c4, c5, 1, 0)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # 6x6 -> 1 for 32x32 input
        self.fc1 = nn.Linear(c5, num_classes)
        self.fc2 = nn.Linear(c5, num_classes) if self.two_heads else None

    def set_generator(self, generator):
        """Draw dropout masks from ``generator`` from now on (None: global RNG). Shared with deep copies."""
        self.generator_ref.generator = GeneratorRef(generator).generator

    def forward(self, x):
        h = torch.flatten(self.pool(self.features(x)), 1)
        if self.two_heads:
            return self.fc1(h), self.fc2(h)
        return self.fc1(h)
