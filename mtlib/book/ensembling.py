"""Temporal Ensembling's per-example ensemble made visible (chapter "Temporal Ensembling").

Everything here calls the functions :class:`mtlib.training.methods.TemporalEnsembling` uses, so the
book shows the update that training runs rather than a copy of its formula:
- :func:`trace_ensemble` feeds a prediction sequence, one per epoch, through ``update_ensemble`` and
  records the raw ensemble Z and the bias-corrected target Z / (1 - a^t);
- :func:`ensemble_bytes` and :func:`state_bytes` measure memory: TE's ensemble for N images vs
  an EMA teacher's weights; :func:`memory_table` lays them side by side;
- :func:`refresh_steps`, :func:`steps_since_refresh` and :func:`logged_windows` read a stored run's
  history: when the targets changed (once per epoch) and which steps each logged row averages.
"""
import math

import pandas as pd
import torch

from mtlib.training.methods.temporal_ensembling import ensemble_tensors, update_ensemble

# training-set sizes of the paper's datasets (Sec. 3; Table 3 adds SVHN's extra images)
DATASET_SIZES = {"CIFAR-10": 50_000, "SVHN": 73_257, "SVHN + extra": 604_388}


def ramp_predictions(epochs, num_classes=10, start=0.7, end=0.7):
    """(epochs, 1, classes) softmax outputs for one image: class 0 gets ``start`` -> ``end``
    linearly over the epochs, the other classes share the rest equally."""
    if epochs < 1 or num_classes < 2:
        raise ValueError(f"epochs={epochs} and num_classes={num_classes} must be >= 1 and >= 2")
    if not (0.0 <= start <= 1.0 and 0.0 <= end <= 1.0):
        raise ValueError(f"start={start} and end={end} must be probabilities in [0, 1]")
    p = torch.linspace(start, end, epochs)
    out = ((1.0 - p) / (num_classes - 1)).view(-1, 1, 1).repeat(1, 1, num_classes)
    out[:, 0, 0] = p
    return out


def weighted_average(predictions, te_alpha):
    """What the ensemble estimates after each epoch t: sum_k a^(t-k) z_k / sum_k a^(t-k).

    Written from the weights, not from the update, so it checks the method's bias correction.
    """
    out = []
    for t in range(1, len(predictions) + 1):
        w = te_alpha ** torch.arange(t - 1, -1, -1, dtype=predictions.dtype)
        out.append((w.view(-1, *[1] * (predictions.dim() - 1)) * predictions[:t]).sum(0) / w.sum())
    return torch.stack(out)


def trace_ensemble(predictions, te_alpha=0.6):
    """Feed ``predictions[t]`` (images, classes) as epoch t+1's outputs through ``update_ensemble``.

    Returns a dict of (epochs, images, classes) tensors: ``prediction``, ``raw`` (Z),
    ``target`` (Z / (1 - a^t)) and ``average`` (:func:`weighted_average`), plus ``te_alpha``.
    """
    predictions = torch.as_tensor(predictions, dtype=torch.float32)
    ensemble = ensemble_tensors(predictions.shape[1], predictions.shape[2])[0]
    raw, target = [], []
    for epoch, z in enumerate(predictions, start=1):
        target.append(update_ensemble(ensemble, z, te_alpha, epoch))
        raw.append(ensemble.clone())
    return {"prediction": predictions, "raw": torch.stack(raw), "target": torch.stack(target),
            "average": weighted_average(predictions, te_alpha), "te_alpha": te_alpha}


def state_bytes(model):
    """Bytes of a model's parameters and buffers: what an EMA teacher keeps beside the student."""
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def ensemble_bytes(n_images, num_classes=10):
    """Bytes TemporalEnsembling holds for ``n_images`` (the tensors its ``memory_bytes()`` counts)."""
    return sum(t.numel() * t.element_size() for t in ensemble_tensors(n_images, num_classes))


def memory_table(te_bytes, teacher_bytes, arch="convnet13", sizes=None):
    """DataFrame in MB: TE's ensemble per dataset (``{name: bytes}``, see :func:`ensemble_bytes`)
    beside the EMA teacher of ``arch`` per width (``{width: bytes}``, see :func:`state_bytes`)."""
    sizes = DATASET_SIZES if sizes is None else sizes
    rows = {}
    for name, b in te_bytes.items():
        n = f" ({sizes[name]:,} images)" if name in sizes else ""
        rows[f"Temporal Ensembling: ensemble, {name}{n}"] = {"grows with": "images x classes", "MB": b / 1e6}
    for width, b in teacher_bytes.items():
        rows[f"Mean Teacher: EMA teacher, {arch} width {width:g}"] = {"grows with": "parameters", "MB": b / 1e6}
    return pd.DataFrame.from_dict(rows, orient="index").round({"MB": 3})


# ---------------------------------------------------------------- a stored run's history
def refresh_steps(history):
    """(steps per epoch, [steps]): the steps after which Temporal Ensembling refreshed its targets.

    Read from the ``epoch`` column of a run's history (passes over the unlabeled images, a float the
    trainer logs at every row). Every batch takes the same number of images from that pool, so the
    epoch grows linearly with the step, and the trainer calls ``after_epoch`` after step
    ``ceil(k * steps_per_epoch)``, the step that completes pass k.
    """
    rows = [r for r in history if r.get("epoch", 0) > 0 and r.get("step", 0) > 0]
    if not rows:
        raise ValueError("the history has no row with step > 0 and epoch > 0 to read the epoch length from")
    last = rows[-1]
    per_epoch = last["step"] / last["epoch"]
    return per_epoch, [math.ceil(k * per_epoch - 1e-6) for k in range(1, int(last["epoch"] + 1e-9) + 1)]


def steps_since_refresh(n_steps, refreshes):
    """Per step 1..``n_steps``: steps since the targets last changed (None before the first refresh,
    when there is no target yet). A sawtooth with one tooth per epoch."""
    out, last, pending = [], None, list(refreshes)
    for step in range(1, n_steps + 1):
        while pending and pending[0] <= step:
            last = pending.pop(0)
        out.append(None if last is None else step - last)
    return out


def logged_windows(history, name):
    """[(first step, last step, value)] of a history column: the trainer averages its train stats
    over the steps since the previous row, so each logged value stands for a window of steps."""
    out, previous = [], 0
    for row in history:
        if name in row:
            out.append((previous + 1, row["step"], row[name]))
        previous = row["step"]
    return out
