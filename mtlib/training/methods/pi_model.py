"""The Pi model (Laine & Aila 2017; paper Sec. 1): theta' = theta, noise on both passes.

Both passes are the student with independent noise, and the consistency gradient flows through
both of them ("the Pi model applies training to theta'", Sec. 2).
"""
from mtlib.models import split_heads
from mtlib.training.methods.base import Method


class PiModel(Method):
    name = "pi"

    def loss(self, x, labels, index, step, weight):
        out_a = self.student(self.augment(x, self.generator))
        out_b = self.student(self.augment(x, self.generator))
        total, _, cons_a, stats = self._student_costs(out_a, labels)
        target_logits, _ = split_heads(out_b)
        cons = self._consistency(cons_a, target_logits, labels)
        total = total + weight * cons
        stats.update(consistency_cost=cons.detach(), loss=total.detach())
        return total, stats
