"""Weight normalisation with mean-only batch normalisation (Salimans & Kingma 2016), as the authors'
ConvNet-13 uses it for every conv and both dense heads (CuriousAI/mean-teacher,
``tensorflow/mean_teacher/weight_norm.py``; Laine & Aila's ``mean_only_bn``).

A layer computes y = conv(x, W) with W = g * V / ||V|| per output channel (torch's
``weight_norm`` parametrisation), then :class:`MeanOnlyBatchNorm`: in training mode the batch mean of
each channel is subtracted (no division by a variance) and the eval mean moves towards it,
eval_mean <- eval_mean - (1 - 0.999) (eval_mean - batch mean); in evaluation mode the eval mean
(initialised at 0, as in the TF code) is subtracted; then a bias b is added.
:func:`data_dependent_init` sets g = 1 / std of each channel's pre-activation on one batch and b = 0.

Stated difference: the TF dense layer keeps its eval mean in units of the unnormalised V (it scales
after centring); here both kinds keep it in units of W, so the eval means of the dense heads differ
by the factor g / ||V|| while that factor changes. Training-mode outputs are the same.
"""
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

EVAL_MEAN_DECAY = 0.999
V_STD = 0.05                       # V ~ N(0, 0.05), as the TF code draws it
INIT_EPS = {"conv": 1e-8, "dense": 1e-10}   # the TF code's epsilon in 1 / sqrt(var + eps)


class MeanOnlyBatchNorm(nn.Module):
    """Subtract each channel's batch mean (training) or eval mean (evaluation), then add a bias.

    Works on (N, C) and (N, C, H, W) inputs; the channel is dimension 1."""

    def __init__(self, channels, decay=EVAL_MEAN_DECAY):
        super().__init__()
        self.decay = decay
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("eval_mean", torch.zeros(channels))
        self.update_eval_mean = True   # off during data-dependent initialisation (as the TF init tower)

    def forward(self, x):
        # Centring in float32, as the TF code computes (a bf16 conv output under autocast is cast up
        # first, so its batch mean, the subtraction and the eval-mean update lose nothing to bf16).
        # The output is float32, as it already was under autocast (bf16 minus the mean plus the fp32
        # bias promotes to fp32); the next conv or linear casts it back to bf16 itself. A float32
        # input is not copied (``.float()`` returns it), so fp32 runs compute exactly what they did.
        shape = (1, -1) + (1,) * (x.dim() - 2)
        x = x.float()
        if self.training:
            mean = x.mean(dim=[d for d in range(x.dim()) if d != 1])
            if self.update_eval_mean:
                with torch.no_grad():
                    self.eval_mean.lerp_(mean.detach().to(self.eval_mean.dtype), 1 - self.decay)
        else:
            mean = self.eval_mean
        return x - mean.reshape(shape) + self.bias.reshape(shape)


def wn_layer(layer):
    """``layer`` (a bias-free Conv2d or Linear) with V ~ N(0, 0.05) and W = g V / ||V|| per output unit."""
    nn.init.normal_(layer.weight, 0.0, V_STD)
    return weight_norm(layer, name="weight", dim=0)


def weight_normed_layers(model):
    """The weight-normalised convs and linears of ``model``."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
            and hasattr(m, "parametrizations") and "weight" in m.parametrizations]


def has_weight_norm(model):
    return bool(weight_normed_layers(model))


@contextmanager
def _frozen_eval_means(model):
    layers = [m for m in model.modules() if isinstance(m, MeanOnlyBatchNorm)]
    for m in layers:
        m.update_eval_mean = False
    try:
        yield
    finally:
        for m in layers:
            m.update_eval_mean = True


@contextmanager
def frozen_statistics(model):
    """Training-mode passes inside leave every normalisation statistic as it was: batch norm normalises
    with the batch's own statistics but does not update its running mean, variance or batch count
    (``track_running_stats`` off), and :class:`MeanOnlyBatchNorm` does not move its eval mean. VAT's
    adversarial passes (vat_tf ``vat.py`` 45, 57: ``update_batch_stats=False``). Flags are restored on exit."""
    saved = [(m, "track_running_stats", m.track_running_stats) for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved += [(m, "update_eval_mean", m.update_eval_mean) for m in model.modules() if isinstance(m, MeanOnlyBatchNorm)]
    for m, flag, _ in saved:
        setattr(m, flag, False)
    try:
        yield model
    finally:
        for m, flag, value in saved:
            setattr(m, flag, value)


@torch.no_grad()
def data_dependent_init(model, x):
    """Salimans & Kingma's initialisation on one (noisy) batch ``x``, layer by layer in one
    training-mode pass: each weight-normalised layer's g becomes 1 / sqrt(var + eps) of its
    pre-activation with g = 1, the following biases 0, so that on this batch every pre-activation has
    mean 0 and std 1. Eval means are not updated by this pass. Returns the number of layers set."""
    layers = weight_normed_layers(model)

    def hook(module, inputs, output):
        dims = [d for d in range(output.dim()) if d != 1]
        var = output.float().var(dim=dims, unbiased=False)
        scale = 1.0 / torch.sqrt(var + INIT_EPS["conv" if isinstance(module, nn.Conv2d) else "dense"])
        g = module.parametrizations.weight.original0
        g.copy_(scale.reshape(g.shape))
        return output * scale.reshape((1, -1) + (1,) * (output.dim() - 2)).to(output.dtype)

    for layer in layers:
        layer.parametrizations.weight.original0.fill_(1.0)
    for m in model.modules():
        if isinstance(m, MeanOnlyBatchNorm):
            m.bias.zero_()
    handles = [layer.register_forward_hook(hook) for layer in layers]
    was_training = model.training
    try:
        model.train()
        with _frozen_eval_means(model):
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return len(layers)
