"""Supervised-only baseline: classification cost on noisy labeled images (Tables 1-2, first rows)."""
from mtlib.training.methods.base import Method


class Supervised(Method):
    """Trained on labeled images only; the trainer draws its batches from the labeled set."""

    name = "supervised"
    uses_unlabeled = False

    def loss(self, x, labels, index, step, weight):
        output = self.student(self.augment(x, self.generator))
        total, _, _, stats = self._student_costs(output, labels)
        stats["loss"] = total.detach()
        return total, stats
