"""Virtual adversarial training (Miyato et al., TPAMI 2018) and Mean Teacher with virtual adversarial noise.

The paper names two roads to better targets, "choose the perturbation of the representations carefully"
(VAT) and "choose the teacher model carefully" (Mean Teacher), and calls them compatible (Sec. 1). Two
methods, with the settings of the authors' code ``takerum/vat_tf`` (book/settings.md):

* ``vat``: classification cost + ``vat_weight`` x KL(p(y|x) || p(y|x + r_adv)), the clean prediction a
  constant target and r_adv from one power iteration (``mtlib.training.adversarial``), plus, with
  ``vat_entmin_weight`` > 0, the entropy of the predictions (the paper's "VAT+EntMin" rows).
* ``mean_teacher_vat``: Mean Teacher (Sec. 2) plus VAT, as ``vat_target`` says:
  ``"student"`` (a) Mean Teacher's consistency cost plus the student's own VAT cost, two targets side by
  side; ``"teacher"`` (b) the student's noise is chosen adversarially against the teacher's target: r_adv
  maximises the consistency cost J between the student at x + r and the teacher, and the student's one
  training pass (classification and consistency cost) is taken at x + r_adv, so the better perturbation
  and the better target meet in one cost. With a teacher target J has a gradient at r = 0, so its
  direction is mostly first-order (adversarial against the teacher) rather than VAT's Hessian direction.

Each unlabeled cost is averaged as the consistency cost is (the images ``consistency_on`` selects, summed,
divided by the batch) and sits on the consistency head (Fig. 4e); ``vat_weight`` and ``vat_entmin_weight``
are constant, as in vat_tf (no ramp-up). The adversarial passes are the student in training mode with
its normalisation statistics frozen (``mtlib.models.frozen_statistics``; vat_tf ``update_batch_stats=False``)
and the dropout masks of the student's own pass on the batch (vat_tf builds every forward pass with the
same dropout op seeds, ``cnn.py`` 15, 25, 35); they leave torch's random stream as they found it. The
power iteration runs in float32 even under bf16 autocast (bf16 rounding would swamp xi d).
"""
import torch
from torch import nn

from mtlib.data.splits import NO_LABEL
from mtlib.models import frozen_statistics, split_heads
from mtlib.training.adversarial import (entropy, kl_to_target, replayed_draws, rng_snapshot,
                                        virtual_adversarial_perturbation)
from mtlib.training.losses import consistency_cost
from mtlib.training.methods.base import Method
from mtlib.training.methods.mean_teacher import MeanTeacher

# whose prediction the student's adversarial noise is chosen against in ``mean_teacher_vat``
VAT_TARGETS = ("student", "teacher")


def _unwrapped(model):
    """The module inside DistributedDataParallel: the power iteration needs no gradient synchronisation."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class _VirtualAdversarial:
    """What the VAT methods share (mixed into a :class:`Method`)."""

    def _unlabeled_mean(self, per_image, labels):
        """Sum over the images ``consistency_on`` selects, divided by the batch size (as Method._consistency)."""
        if self.cfg.consistency_on == "unlabeled":
            per_image = per_image * (labels == NO_LABEL).to(per_image.dtype)
        return per_image.mean()

    def _adversarial_pass(self, model, z, draws):
        """The student's output at z: training mode, statistics frozen, the dropout masks drawn after ``draws``."""
        with frozen_statistics(model), replayed_draws(draws):
            return model(z)

    def _perturbation(self, x, target, divergence, draws):
        """r_adv for the batch x: ``divergence(consistency logits at x + r, target)`` maximised by the power
        iteration (``mtlib.training.adversarial``), in float32 throughout (passes, divergence, gradients)."""
        model, cfg = _unwrapped(self.student), self.cfg
        forward = lambda z: split_heads(self._adversarial_pass(model, z, draws))[1]
        with torch.autocast(x.device.type, enabled=False):
            return virtual_adversarial_perturbation(forward, x.float(), target.float(), divergence, cfg.vat_epsilon,
                                                    cfg.vat_xi, self.generator, cfg.vat_power_iterations)

    def _vat_cost(self, x, cons_logits, draws, labels, stats):
        """(vat_weight x KL(clean || student at x + r_adv), the class logits at x + r_adv, the target): VAT's
        local distributional smoothness with the student's clean prediction a constant target."""
        target = cons_logits.detach()
        reference = target
        if torch.is_autocast_enabled(x.device.type):   # the power iteration's D must be 0 at r = 0: a float32 reference
            with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
                reference = split_heads(self._adversarial_pass(_unwrapped(self.student), x, draws))[1].float()
        divergence = lambda logits, tgt: self._unlabeled_mean(kl_to_target(logits, tgt), labels)
        r_adv = self._perturbation(x, reference, divergence, draws)
        adv_class, adv_cons = split_heads(self._adversarial_pass(self.student, x + r_adv, draws))
        vat = divergence(adv_cons, target)
        stats["vat_cost"] = vat.detach()
        return self.cfg.vat_weight * vat, adv_class, target

    def _entmin(self, cons_logits, labels, stats):
        """vat_entmin_weight x the mean entropy of the student's predictions (VAT+EntMin), or 0."""
        if self.cfg.vat_entmin_weight == 0:
            return 0.0
        ent = self._unlabeled_mean(entropy(cons_logits), labels)
        stats["entropy"] = ent.detach()
        return self.cfg.vat_entmin_weight * ent


class VAT(_VirtualAdversarial, Method):
    """Classification cost + VAT cost (+ entropy); the consistency weight of the trainer is not used.
    Logged: the student's prediction at x + r_adv against its clean prediction (the target)."""

    name = "vat"
    reported_model = "student"     # vat_tf evaluates the network itself, no EMA of its weights (settings page)

    def loss(self, x, labels, index, step, weight):
        x_student = self.augment(x, self.generator)
        draws = rng_snapshot(x.device)
        total, _, cons_logits, stats = self._student_costs(self.student(x_student), labels)
        vat, adv_class, target = self._vat_cost(x_student, cons_logits, draws, labels, stats)
        total = total + vat + self._entmin(cons_logits, labels, stats)
        self._student_pred, self._target_pred = adv_class.detach(), target
        stats["loss"] = total.detach()
        return total, stats


class MeanTeacherVAT(_VirtualAdversarial, MeanTeacher):
    """Mean Teacher with virtual adversarial noise, combination ``vat_target`` ("student": (a), "teacher":
    (b); module docstring). Logged: the student's training pass (at x + r_adv in (b)) against the teacher."""

    name = "mean_teacher_vat"

    def loss(self, x, labels, index, step, weight):
        cfg = self.cfg
        x_student, x_teacher = self.augment(x, self.generator), self.augment(x, self.generator)
        self.ema.train(self.student.training)
        with torch.no_grad():
            teacher_logits, _ = split_heads(self.ema(x_teacher))
        draws = rng_snapshot(x.device)
        if cfg.vat_target == "teacher":
            # the training pass below draws the masks the power iteration replayed
            divergence = lambda logits, tgt: self._unlabeled_mean(
                consistency_cost(logits, tgt, cfg.consistency, cfg.consistency_tau, reduction="none"), labels)
            x_student = x_student + self._perturbation(x_student, teacher_logits, divergence, draws)
        total, _, cons_logits, stats = self._student_costs(self.student(x_student), labels)
        cons = self._consistency(cons_logits, teacher_logits.detach(), labels)
        total = total + weight * cons
        if cfg.vat_target == "student":
            total = total + self._vat_cost(x_student, cons_logits, draws, labels, stats)[0]
        total = total + self._entmin(cons_logits, labels, stats)
        stats.update(consistency_cost=cons.detach(), loss=total.detach())
        return total, stats
