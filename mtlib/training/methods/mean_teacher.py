"""Mean Teacher (paper Sec. 2, Fig. 2): the target comes from the EMA of the student's weights.

The teacher (the trainer's EMA model) sees its own noise eta', runs in training mode (dropout on,
like the student) under ``no_grad``, and is a constant for the optimiser; the trainer updates its
weights after every step, theta'_t = alpha theta'_{t-1} + (1 - alpha) theta_t.
"""
import torch

from mtlib.models import split_heads
from mtlib.training.methods.base import Method


class MeanTeacher(Method):
    name = "mean_teacher"

    def loss(self, x, labels, index, step, weight):
        student_out = self.student(self.augment(x, self.generator))
        self.ema.train(self.student.training)
        with torch.no_grad():
            teacher_logits, _ = split_heads(self.ema(self.augment(x, self.generator)))
        total, _, cons_logits, stats = self._student_costs(student_out, labels)
        cons = self._consistency(cons_logits, teacher_logits, labels)
        total = total + weight * cons
        stats.update(consistency_cost=float(cons.detach()), loss=float(total.detach()))
        return total, stats
