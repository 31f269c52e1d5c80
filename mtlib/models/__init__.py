"""The networks: the paper's 13-layer ConvNet, ResNet-26 Shake-Shake, and the Figure 1 toy MLP.

``build_model(arch, ...)`` makes one by name; ``count_parameters(model)`` counts its parameters.
"""
from mtlib.checks import check_choice
from mtlib.models.convnet13 import NORMS as CONVNET_NORMS, ConvNet13
from mtlib.models.resnet import ResNet26ShakeShake, ShakeShakeBlock, ShakeShakeFunction, shake_shake
from mtlib.models.toy import ToyNet
from mtlib.models.weight_norm import frozen_statistics

__all__ = ["ARCHS", "CONFIG_ARCHS", "CONVNET_NORMS", "ConvNet13", "ResNet26ShakeShake", "ShakeShakeBlock", "ShakeShakeFunction",
           "ToyNet", "build_model", "count_parameters", "frozen_statistics", "shake_shake", "split_heads"]

ARCHS = {"convnet13": ConvNet13, "resnet26_shakeshake": ResNet26ShakeShake, "toy": ToyNet}
_DEFAULT_CLASSES = {"convnet13": 10, "resnet26_shakeshake": 10, "toy": 2}
# which RunConfig knobs each architecture takes
_CONFIG_KNOBS = {
    "convnet13": lambda cfg: dict(width=cfg.width, dropout=cfg.dropout, two_heads=cfg.two_heads,
                                  norm=cfg.convnet_norm),
    "resnet26_shakeshake": lambda cfg: dict(two_heads=cfg.two_heads),
}
CONFIG_ARCHS = tuple(_CONFIG_KNOBS)   # the architectures a RunConfig may name (the image networks)


def build_model(arch, num_classes=None, **kwargs):
    """Make a network. ``arch`` is a name of ``ARCHS`` (other keywords go to its class), or a
    RunConfig, whose knobs each architecture takes as it knows them: ConvNet-13 width, dropout,
    two heads and normalisation; ResNet-26 Shake-Shake two heads (its widths are fixed and it has no dropout).
    ``num_classes=None`` means the arch's default (10 for CIFAR/SVHN networks, 2 for "toy")."""
    if not isinstance(arch, str):
        cfg = arch
        arch, kwargs = cfg.arch, {**_CONFIG_KNOBS[cfg.arch](cfg), **kwargs}
    check_choice("arch", arch, ARCHS)
    if num_classes is None:
        num_classes = _DEFAULT_CLASSES[arch]
    return ARCHS[arch](num_classes=num_classes, **kwargs)


def split_heads(output):
    """(class_logits, consistency_logits): one head serves both unless the model has two (Fig. 4e)."""
    if isinstance(output, (tuple, list)):
        return output[0], output[1]
    return output, output


def count_parameters(model, trainable_only=False):
    """Number of parameter elements of ``model`` (only those requiring grad if ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
