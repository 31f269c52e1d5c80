"""Costs of the paper: classification, consistency (Sec. 2, Fig. 4f) and logit distance (Fig. 4e).

Every consistency cost takes the *student* logits first and the *target* logits second and
does not detach anything: the method decides where gradients flow (Pi model: both sides;
Mean Teacher and Temporal Ensembling: the target is constant). ``reduction='none'`` returns one
value per image so a method can restrict the cost to unlabeled images. Leaf module.
"""
import torch.nn.functional as F

from mtlib.data.splits import NO_LABEL


def _reduce(per_image, reduction):
    if reduction == "mean":
        return per_image.mean() if per_image.numel() else per_image.sum()
    if reduction == "none":
        return per_image
    raise ValueError(f"reduction={reduction!r} is unknown; choose 'mean' or 'none'")


def classification_cost(logits, labels, over="batch"):
    """Cross-entropy of the labeled images (``NO_LABEL`` = -1 is skipped), summed and divided by
    the WHOLE batch size (``over="batch"``): the convention of all three reference codebases
    (the book's Settings and their sources page, book/settings.md), which the consistency weights of
    the paper assume. ``over="labeled"`` averages over the labeled images only, a common pitfall:
    relative to the consistency cost it makes the classification term batch / labeled-in-batch times
    stronger.
    A batch with no labeled image costs 0 (with a gradient of 0), not NaN; nothing syncs with the host.
    """
    per_image = F.cross_entropy(logits, labels.clamp(min=0), reduction="none")
    labeled = (labels != NO_LABEL).to(per_image.dtype)
    total = (per_image * labeled).sum()
    if over == "batch":
        return total / len(labels)
    if over == "labeled":
        return total / labeled.sum().clamp(min=1.0)
    raise ValueError(f"over={over!r} is unknown; choose 'batch' or 'labeled'")


def softmax_mse(student_logits, target_logits, reduction="mean"):
    """MSE between softmax outputs, averaged over classes (the paper's consistency cost J, Sec. 2)."""
    diff = F.softmax(student_logits, dim=1) - F.softmax(target_logits, dim=1)
    return _reduce((diff ** 2).mean(dim=1), reduction)


def softmax_kl(student_logits, target_logits, reduction="mean"):
    """KL(target softmax || student softmax), summed over classes (Fig. 4f, tau = 1 before scaling)."""
    target_logp = F.log_softmax(target_logits, dim=1)
    student_logp = F.log_softmax(student_logits, dim=1)
    kl = (target_logp.exp() * (target_logp - student_logp)).sum(dim=1)
    return _reduce(kl, reduction)


def tau_consistency(student_logits, target_logits, tau, reduction="mean"):
    """The MSE -> KL cost family of Fig. 4f / Appendix C ("consistency trust" tau).

    tau = 0 is :func:`softmax_mse`. For 0 < tau <= 1 both softmaxes are mixed with the uniform
    distribution, p~ = tau p + (1 - tau) / N, and the cost is KL(target p~ || student p~)
    times 2 (1 - 1/N) / N^2 / tau^2 (the authors' TF ``model.py`` 491-554; the book's Settings and their
    sources page, book/settings.md); tau = 1 is the scaled KL divergence.
    """
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"consistency_tau={tau} is outside [0, 1]; 0 is MSE, 1 is KL")
    if tau == 0.0:
        return softmax_mse(student_logits, target_logits, reduction)
    n = student_logits.shape[1]
    p_student = tau * F.softmax(student_logits, dim=1) + (1.0 - tau) / n
    p_target = tau * F.softmax(target_logits, dim=1) + (1.0 - tau) / n
    kl = (p_target * (p_target.log() - p_student.log())).sum(dim=1)
    scale = 2.0 * (1.0 - 1.0 / n) / n ** 2 / tau ** 2
    return _reduce(kl * scale, reduction)


LOGIT_DISTANCE_CLASSES = ("sum", "mean")


def logit_distance(logits_a, logits_b, classes="sum", reduction="mean"):
    """Squared distance between two heads' logits (dual output, Fig. 4e), per image summed over
    classes (``classes="sum"``: the TF code's ``l2_norms``, ConvNet) or averaged (``"mean"``: the
    PyTorch ResNet code's ``symmetric_mse_loss / num_classes``), then averaged over the batch."""
    squared = (logits_a - logits_b) ** 2
    return _reduce(squared.sum(dim=1) if classes == "sum" else squared.mean(dim=1), reduction)


CONSISTENCY_COSTS = ("mse", "kl")


def consistency_cost(student_logits, target_logits, kind="mse", tau=None, reduction="mean"):
    """Dispatch on the config's ``consistency`` name; ``tau`` (if given) selects Fig. 4f's family."""
    if tau is not None:
        return tau_consistency(student_logits, target_logits, tau, reduction)
    if kind == "mse":
        return softmax_mse(student_logits, target_logits, reduction)
    if kind == "kl":
        return softmax_kl(student_logits, target_logits, reduction)
    raise ValueError(f"consistency={kind!r} is unknown; choose one of {CONSISTENCY_COSTS}")
