"""Temporal Ensembling (Laine & Aila 2017; paper Sec. 1): targets are per-example prediction averages.

During an epoch the student's softmax output for each image is recorded. At the end of the
epoch the ensemble is updated, Z <- a Z + (1 - a) z, and the targets become the bias-corrected
Z / (1 - a^t) (t = epochs so far): without the correction the early targets are shrunk towards
zero because Z starts at 0. Targets therefore change once per epoch, and the consistency weight
is 0 during the first epoch, when no target exists yet. Memory is O(N x classes), not O(parameters).
"""
import torch
import torch.nn.functional as F

from mtlib.training.methods.base import Method


def ensemble_tensors(n_images, num_classes, device="cpu"):
    """Zeros for Z, this epoch's z and the targets: three float32 (n_images, num_classes) tensors."""
    return tuple(torch.zeros((n_images, num_classes), device=device) for _ in range(3))


def update_ensemble(ensemble, outputs, alpha, epochs):
    """In place Z <- a Z + (1 - a) z; returns the target Z / (1 - a^t) after t = ``epochs`` epochs
    (Laine & Aila 2017, Sec. 2.2)."""
    ensemble.mul_(alpha).add_(outputs, alpha=1.0 - alpha)
    return ensemble / (1.0 - alpha ** epochs)


class TemporalEnsembling(Method):
    name = "temporal_ensembling"
    reported_model = "student"     # Laine & Aila evaluate the raw network

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Z, z (this epoch's latest prediction per image), Z / (1 - a^t)
        device = next(self.student.parameters()).device
        self.ensemble, self.epoch_outputs, self.targets = ensemble_tensors(self.n_train, self.num_classes, device)
        self.epochs_done = 0

    def loss(self, x, labels, index, step, weight):
        output = self.student(self.augment(x, self.generator))
        total, _, cons_logits, stats = self._student_costs(output, labels)
        self.epoch_outputs[index] = F.softmax(cons_logits.detach().float(), dim=1)
        if self.epochs_done > 0:
            cons = self._consistency_to_probs(cons_logits, self.targets[index], labels)
            total = total + weight * cons
            stats["consistency_cost"] = cons.detach()
        else:
            stats["consistency_cost"] = 0.0
        stats["loss"] = total.detach()
        return total, stats

    def _consistency_to_probs(self, logits, target_probs, labels):
        # the cost functions take logits; log-probabilities are logits of the same softmax
        return self._consistency(logits, target_probs.clamp_min(1e-12).log(), labels)

    def after_epoch(self, epoch):
        self.epochs_done += 1
        self.targets = update_ensemble(self.ensemble, self.epoch_outputs, self.cfg.te_alpha, self.epochs_done)

    def memory_bytes(self):
        """Bytes held for the per-example ensemble (Z, this epoch's z and the targets)."""
        return sum(t.numel() * t.element_size() for t in (self.ensemble, self.epoch_outputs, self.targets))

    def state_dict(self):
        return {"ensemble": self.ensemble, "epoch_outputs": self.epoch_outputs,
                "targets": self.targets, "epochs_done": self.epochs_done}

    def load_state_dict(self, state):
        device = self.ensemble.device
        self.ensemble, self.epoch_outputs = state["ensemble"].to(device), state["epoch_outputs"].to(device)
        self.targets, self.epochs_done = state["targets"].to(device), int(state["epochs_done"])
