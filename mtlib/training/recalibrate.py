"""Fresh normalisation statistics before an evaluation (``RunConfig.recalibrate_batches``; off by default
and in every paper preset).

A network evaluates with the statistics its normalisation layers collected during training: the eval
means of mean-only batch norm (an exponential moving average of the batch means, decay 0.999, from 0,
as in the authors' TF code, ``tensorflow/mean_teacher/weight_norm.py`` 23, 62-69) and the running
mean and variance of ``BatchNorm``. Those averages lag behind the weights: they mix batches seen
under the weights of the last ~1 / (1 - decay) steps. :func:`recalibrated` replaces them, on a copy
of the model, by plain averages over a few noisy training batches at the current weights, as torch's
``torch.optim.swa_utils.update_bn`` and fvcore's PreciseBN do for batch norm:

* ``MeanOnlyBatchNorm``: eval_mean = the mean over the batches of the layer's batch means (the
  layer's own update with the weight 1 / k at the k-th batch, an exact running average, not an EMA);
* torch batch norm: ``reset_running_stats()`` and ``momentum=None`` (torch's cumulative average).

Dropout stays on. The passes are training-mode passes, as in ``update_bn`` and PreciseBN, so the new
statistics average what the trained ones average (noisy batches, dropout active, shake-shake's random
branch weights), only at the current weights. The option therefore removes the lag and changes
nothing else. With dropout off they would instead match the activations that evaluation sees, whose
variance is smaller (Li et al. 2019, "variance shift"), and that would be a second change. The
model's own dropout rate is used, so a teacher run with ``teacher_dropout=False`` has none. The
passes run in float32, as the evaluation does.

Every random draw comes from ``seed``: the images and their noise from generators of their own
(:func:`noisy_batches`), dropout from torch's global generators, forked and restored afterwards. The
model, its statistics and every training random stream are untouched, so a run trains bit for bit
the same with the option on or off; only its evaluations change.
"""
import copy
from contextlib import contextmanager

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mtlib.models.weight_norm import MeanOnlyBatchNorm


def noisy_batches(images, n_batches, batch_size, augment, seed, pool=None):
    """Yield ``n_batches`` batches, each ``batch_size`` images of ``images[pool]`` (default: all) drawn
    without replacement and passed through ``augment`` (the training noise). The indices come from a
    CPU generator seeded with ``seed`` and the noise from one on the images' device."""
    if not (isinstance(n_batches, int) and n_batches >= 1):
        raise ValueError(f"n_batches={n_batches!r} must be an integer >= 1")
    pool = torch.arange(len(images)) if pool is None else pool
    index_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=images.device).manual_seed(seed)
    for _ in range(n_batches):
        index = pool[torch.randperm(len(pool), generator=index_gen)[:batch_size]]
        yield augment(images[index.to(images.device)], noise_gen)


@contextmanager
def _global_rng(seed, device):
    """Inside: torch's global CPU generator (and ``device``'s, on CUDA) seeded with ``seed``; after:
    as they were before."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        if devices:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield


@torch.no_grad()
def recalibrated(model, batches, seed):
    """A copy of ``model``, in eval mode, whose normalisation statistics are averages over ``batches``
    (training-mode passes, dropout on; see the module docstring). ``model`` is not changed."""
    model = copy.deepcopy(model)
    batch_norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    mean_only = [m for m in model.modules() if isinstance(m, MeanOnlyBatchNorm)]
    for m in batch_norms:
        m.reset_running_stats()
        m.momentum = None                  # running stat <- running stat + (batch stat - running stat) / k
    for m in mean_only:
        m.update_eval_mean = True
    model.train()
    device = next(model.parameters()).device
    seen = 0
    with _global_rng(seed, device):
        for x in batches:
            for m in mean_only:            # lerp weight 1 - decay = 1 / (seen + 1): the running average
                m.decay = seen / (seen + 1)
            model(x)
            seen += 1
    if not seen:
        raise ValueError("batches is empty; recalibration needs at least one batch")
    return model.eval()
