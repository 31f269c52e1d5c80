"""Mean Teacher (paper Sec. 2, Fig. 2): the target comes from the EMA of the student's weights.

The teacher (the trainer's EMA model) sees its own noise eta', runs in training mode under
``no_grad`` (dropout on unless ``teacher_dropout=False``, Fig. 4b), and is a constant for the
optimiser; the trainer updates its weights after every step, theta'_t = alpha theta'_{t-1} +
(1 - alpha) theta_t. Its batch-norm running statistics are those of its own training-mode passes,
as in the authors' code. The teacher runs first, so the student's autograd graph is not alive
during it (measured faster; benchmarks/step_speed.py).
"""
import torch
from torch import nn

from mtlib.models import split_heads
from mtlib.training.methods.base import Method


class MeanTeacher(Method):
    name = "mean_teacher"
    teacher_keeps_own_statistics = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.cfg.teacher_dropout:
            for module in self.ema.modules():
                if isinstance(module, nn.Dropout):
                    module.p = 0.0

    def loss(self, x, labels, index, step, weight):
        x_student, x_teacher = self.augment(x, self.generator), self.augment(x, self.generator)
        self.ema.train(self.student.training)
        with torch.no_grad():
            teacher_logits, _ = split_heads(self.ema(x_teacher))
        student_out = self.student(x_student)
        total, _, cons_logits, stats = self._student_costs(student_out, labels)
        cons = self._consistency(cons_logits, teacher_logits.detach(), labels)
        total = total + weight * cons
        stats.update(consistency_cost=cons.detach(), loss=total.detach())
        return total, stats
