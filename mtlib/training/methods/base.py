"""What every method is to the trainer: a batch in, a loss out, plus two hooks (design card)."""
from mtlib.data.splits import NO_LABEL
from mtlib.models import split_heads
from mtlib.training.losses import classification_cost, consistency_cost, logit_distance

# which images the consistency cost averages over (CIFAR-10: all, SVHN: unlabeled; App. B)
CONSISTENCY_ON = ("all", "unlabeled")


class Method:
    """Base class. Subclasses implement :meth:`loss`; hooks default to doing nothing.

    ``student`` is trained; ``ema`` is the exponential moving average of the student that the
    trainer keeps for every method (the paper evaluates EMA weights for all models, Table 1) and
    that Mean Teacher also uses as its teacher. ``augment(x, generator)`` draws fresh noise.
    """

    name = "base"
    uses_unlabeled = True
    # True when the EMA model runs training-mode forward passes of its own (Mean Teacher's teacher):
    # its batch-norm statistics are then its own, as in the authors' code, not averaged (ema.py)
    teacher_keeps_own_statistics = False
    # the model whose error a table reports for this method: the EMA of the weights (the paper
    # evaluates EMA weights for all its models, Table 1) or the raw network ("student")
    reported_model = "ema"
    # what the trainer's logging reads after each loss (never an input of it), detached: the student's
    # class logits (set by _student_costs) and the consistency target (set by _consistency); the target
    # stays None on a step without one (supervised-only; Temporal Ensembling's first epoch)
    _student_pred = _target_pred = None

    def __init__(self, student, ema, cfg, augment, generator, n_train, num_classes):
        self.student, self.ema, self.cfg = student, ema, cfg
        self.augment, self.generator = augment, generator
        self.n_train, self.num_classes = n_train, num_classes

    def loss(self, x, labels, index, step, weight):
        """Return (total loss tensor, dict of detached scalar tensors or floats) for one batch.

        x: normalised images (B, C, H, W); labels: true labels with NO_LABEL for unlabeled images;
        index: positions of the images in the training set; weight: consistency weight now.
        """
        raise NotImplementedError

    def take_predictions(self):
        """(student class logits, consistency target) of the last loss, or None without a target; the
        trainer's logging compares them with the hidden true labels (Sec. 1-2: are targets better?)."""
        pair = None if self._target_pred is None else (self._student_pred, self._target_pred)
        self._student_pred = self._target_pred = None
        return pair

    def after_step(self, step):
        """Called after the optimiser and EMA updates of ``step``."""

    def after_epoch(self, epoch):
        """Called when the batch sampler finishes pass number ``epoch`` (1-based) over the data."""

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    # shared pieces -----------------------------------------------------------------
    def _consistency(self, student_logits, target_logits, labels):
        """Consistency cost J (Sec. 2) over the images ``consistency_on`` selects, summed and divided
        by the whole batch size, as the authors' code does (masked costs, then a mean over the batch)."""
        self._target_pred = target_logits.detach()
        per_image = consistency_cost(student_logits, target_logits, self.cfg.consistency,
                                     self.cfg.consistency_tau, reduction="none")
        if self.cfg.consistency_on == "unlabeled":
            per_image = per_image * (labels == NO_LABEL).to(per_image.dtype)
        return per_image.mean()

    def _student_costs(self, output, labels):
        """Classification cost on the class head (sum over labeled images / batch size), plus the
        logit-distance coupling of Fig. 4e. Stats are detached tensors: nothing waits for the device."""
        class_logits, cons_logits = split_heads(output)
        class_cost = classification_cost(class_logits, labels)
        self._student_pred = class_logits.detach()
        stats = {"class_cost": class_cost.detach()}
        total = class_cost
        if self.cfg.logit_distance_weight > 0:
            res = logit_distance(class_logits, cons_logits, classes=self.cfg.logit_distance_classes)
            total = total + self.cfg.logit_distance_weight * res
            stats["logit_distance"] = res.detach()
        return total, class_logits, cons_logits, stats
