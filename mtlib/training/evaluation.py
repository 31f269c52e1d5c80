"""Test / validation error of a model: percent misclassified and mean cross-entropy."""
import torch
import torch.nn.functional as F

from mtlib.models import split_heads


@torch.no_grad()
def evaluate(model, images, labels, batch_size=500, device="cpu"):
    """(error %, mean classification cost) of ``model`` in eval mode (no dropout, BN running stats)."""
    if len(labels) == 0:
        return None, None
    was_training = model.training
    model.eval()
    wrong, cost = 0, 0.0
    for start in range(0, len(labels), batch_size):
        x = images[start:start + batch_size].to(device)
        y = labels[start:start + batch_size].to(device)
        logits, _ = split_heads(model(x))
        wrong += int((logits.argmax(1) != y).sum())
        cost += float(F.cross_entropy(logits, y, reduction="sum"))
    model.train(was_training)
    return 100.0 * wrong / len(labels), cost / len(labels)
