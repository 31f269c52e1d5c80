"""Temporal Ensembling's per-example ensemble made visible (chapter "Temporal Ensembling").

Everything here calls the functions :class:`mtlib.training.methods.TemporalEnsembling` uses, so the
book shows the update that training runs rather than a copy of its formula:
- :func:`trace_ensemble` feeds a prediction sequence, one per epoch, through ``update_ensemble`` and
  records the raw ensemble Z and the bias-corrected target Z / (1 - a^t);
- :func:`ensemble_bytes` and :func:`state_bytes` measure memory: TE's ensemble for N images vs
  an EMA teacher's weights; :func:`memory_table` lays them side by side.
"""
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
