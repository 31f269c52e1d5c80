"""One run's parameters, validated once (design: parameters -> config -> data -> ...).

A parameter means the same thing, with the same name, in a notebook's ``parameters`` cell,
a papermill ``-p`` override, the results file and the book's tables. Every bad value raises a
``ValueError`` that names the parameter and what is allowed.
"""
import typing
from dataclasses import asdict, dataclass, fields
from typing import List, Optional

from mtlib.checks import check_choice, is_finite, is_int, is_number
from mtlib.data.datasets import DATASETS
from mtlib.data.normalize import NORMALIZATIONS
from mtlib.models import CONFIG_ARCHS as ARCHS, CONVNET_NORMS
from mtlib.training.ema import check_decay
from mtlib.training.losses import CONSISTENCY_COSTS, LOGIT_DISTANCE_CLASSES
from mtlib.training.methods import METHOD_CLASSES, VAT_TARGETS
from mtlib.training.methods.base import CONSISTENCY_ON
from mtlib.training.precision import PRECISIONS
from mtlib.training.schedules import EMA_SCHEDULES, LR_SCHEDULES, OPTIMIZERS

METHODS = tuple(METHOD_CLASSES)
# the name list each choice parameter is checked against (each list lives in its concept's module)
CHOICES = {"method": METHODS, "dataset": DATASETS, "arch": ARCHS, "optimizer": OPTIMIZERS,
           "normalization": NORMALIZATIONS, "consistency": CONSISTENCY_COSTS,
           "consistency_on": CONSISTENCY_ON, "ema_schedule": EMA_SCHEDULES, "lr_schedule": LR_SCHEDULES,
           "logit_distance_classes": LOGIT_DISTANCE_CLASSES, "precision": PRECISIONS,
           "convnet_norm": CONVNET_NORMS, "vat_target": VAT_TARGETS}


@dataclass
class RunConfig:
    """Defaults follow the paper's CIFAR-10 ConvNet protocol (the book's settings page) except ``steps``
    and ``convnet_norm`` (the paper presets set the authors' "weightnorm")."""

    # what to run
    method: str = "mean_teacher"
    dataset: str = "cifar10"
    data_root: Optional[str] = None          # None: $MTLIB_DATA, else ~/.cache/mtlib/data
    download: bool = False
    n_labels: int = 4000
    seed: int = 0
    n_val: int = 0                           # images held out of train for validation (Fig. 4: 7325)
    classes: Optional[List[str]] = None          # CPU-scale knob: a subset of class names
    max_train: Optional[int] = None          # CPU-scale knob: a seeded subset of training images
    normalization: str = "zca"
    image_size: int = 32                     # CPU-scale knob: average images down to this size
    max_test: Optional[int] = None           # CPU-scale knob: evaluate on a seeded test subset
    n_extra_unlabeled: int = 0               # SVHN: images of the 'extra' split added as unlabeled (Table 3)
    # model
    arch: str = "convnet13"
    width: float = 1.0                       # ConvNet-13 width multiplier (1 = 128/256/512)
    convnet_norm: str = "batchnorm"          # ConvNet-13: batchnorm | weightnorm (the authors'; paper presets)
    dropout: float = 0.5
    two_heads: bool = False                  # dual output (Fig. 4e)
    teacher_dropout: bool = True             # dropout in the teacher's forward pass too (Fig. 4b)
    # noise (Sec. 3, App. B): translation px, horizontal flip, Gaussian input noise sigma
    translate: int = 2
    flip: bool = True
    input_noise: float = 0.15
    # batches: labeled_per_batch=None draws batches from the whole set with a labeled mask
    batch_size: int = 100
    labeled_per_batch: Optional[int] = None
    # optimisation
    steps: int = 150_000
    optimizer: str = "adam"
    lr: float = 0.003
    rampup_steps: int = 40_000               # lr, consistency weight (and EMA switch) ramp-up
    rampdown_steps: int = 25_000             # lr and Adam beta1 ramp-down
    adam_beta1: float = 0.9
    adam_beta1_rampdown: float = 0.5
    adam_beta2_rampup: float = 0.99
    adam_beta2: float = 0.999
    weight_decay: float = 0.0
    nesterov_momentum: float = 0.9
    lr_schedule: str = "sigmoid"             # sigmoid ramps (ConvNet) | cosine (ResNet, PyTorch code)
    lr_warmup_steps: Optional[int] = None    # cosine: linear lr warm-up (None: rampup_steps)
    cosine_steps: Optional[int] = None       # cosine: the length it is sized for (None: steps)
    # consistency
    consistency: str = "mse"
    consistency_tau: Optional[float] = None  # Fig. 4f family; None uses ``consistency``
    consistency_weight: float = 8.0          # CIFAR-10: 100 * n_labels / 50000
    consistency_on: str = "all"              # CIFAR-10 applies it to all images, SVHN to unlabeled
    logit_distance_weight: float = 0.0       # dual output coupling (Fig. 4e)
    logit_distance_classes: str = "sum"      # over classes: sum (TF code, ConvNet) | mean (PyTorch, ResNet)
    # teacher
    ema_decay: float = 0.999
    ema_schedule: str = "constant"
    ema_decay_rampup: float = 0.99
    te_alpha: float = 0.6                    # Temporal Ensembling's per-example ensemble momentum
    # virtual adversarial training (methods vat, mean_teacher_vat; vat_tf's values, book/settings.md)
    vat_epsilon: float = 8.0                 # L2 norm of r_adv per image, in the normalised input's units
    vat_xi: float = 1e-6                     # length of the power iteration's probe xi d
    vat_power_iterations: int = 1            # power-method steps for r_adv
    vat_weight: float = 1.0                  # weight of the student's own VAT cost (constant)
    vat_entmin_weight: float = 0.0           # entropy minimisation weight (VAT+EntMin: 1.0; constant)
    vat_target: str = "student"              # mean_teacher_vat: "student" (a) own VAT cost | "teacher" (b)
    # bookkeeping
    eval_every: int = 1000
    eval_batch_size: int = 500
    recalibrate_batches: int = 0             # N > 0: BN statistics from N noisy batches before each evaluation; 0: off
    checkpoint_every: int = 0                # 0: no checkpoints
    checkpoint_dir: Optional[str] = None
    device: str = "cpu"
    # how the run is computed, not what (not part of a results file's identity; provenance records it):
    # the same run within run-to-run noise, not bit for bit (dropout masks follow the memory format)
    precision: str = "auto"                  # auto: bf16 autocast where the device has native bf16, else fp32
    channels_last: bool = False              # NHWC tensors for the convolutions
    compile: bool = False                    # torch.compile the student and teacher forward passes
    threads: int = 0                         # 0: leave torch's default

    def __post_init__(self):
        self.validate()
        for f in fields(self):   # 10 and 10.0 are one value: one run identity (papermill passes ints)
            if _HINTS[f.name] in (float, Optional[float]) and is_int(getattr(self, f.name)):
                setattr(self, f.name, float(getattr(self, f.name)))

    def validate(self):
        """Raise ValueError naming the first bad parameter: its type (from the field's annotation),
        its choices (``CHOICES``), then its range."""
        for f in fields(self):
            _check_type(f.name, getattr(self, f.name), _HINTS[f.name])
        for name, allowed in CHOICES.items():
            check_choice(name, getattr(self, name), allowed)
        for name in ("steps", "batch_size", "eval_batch_size"):
            _at_least(name, getattr(self, name), 1)
        for name in ("n_labels",):
            _at_least(name, getattr(self, name), 1)
        for name in ("n_val", "translate", "rampup_steps", "rampdown_steps", "eval_every",
                     "checkpoint_every", "threads", "n_extra_unlabeled", "recalibrate_batches"):
            _at_least(name, getattr(self, name), 0)
        for name in ("lr", "input_noise", "consistency_weight", "logit_distance_weight",
                     "weight_decay", "vat_epsilon", "vat_weight", "vat_entmin_weight"):
            _at_least(name, getattr(self, name), 0.0)
        _at_least("vat_power_iterations", self.vat_power_iterations, 1)
        if self.vat_xi <= 0:
            raise ValueError(f"vat_xi={self.vat_xi!r} must be > 0 (the power iteration's probe length; vat_tf: 1e-6)")
        if self.vat_target != "student" and self.method != "mean_teacher_vat":
            raise ValueError(f"vat_target={self.vat_target!r} needs method='mean_teacher_vat' (the teacher's "
                             f"target); method={self.method!r} takes vat_target='student'")
        if self.width <= 0:
            raise ValueError(f"width={self.width} must be > 0 (1 is the paper's 128/256/512 channels)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} is outside [0, 1)")
        for name in ("ema_decay", "ema_decay_rampup", "te_alpha"):
            check_decay(getattr(self, name), name)
        if self.consistency_tau is not None and not 0.0 <= self.consistency_tau <= 1.0:
            raise ValueError(f"consistency_tau={self.consistency_tau} is outside [0, 1]; 0 is MSE, 1 is KL")
        if self.labeled_per_batch is not None:
            if not 1 <= self.labeled_per_batch <= self.batch_size:
                raise ValueError(f"labeled_per_batch={self.labeled_per_batch} must be between 1 and "
                                 f"batch_size={self.batch_size} (or None for a labeled mask)")
        if self.rampdown_steps > self.steps:
            raise ValueError(f"rampdown_steps={self.rampdown_steps} is longer than steps={self.steps}")
        if self.logit_distance_weight > 0 and not self.two_heads:
            raise ValueError("logit_distance_weight > 0 needs two_heads=True (dual output, Fig. 4e)")
        for name in ("max_test", "lr_warmup_steps", "cosine_steps"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1 if name != "lr_warmup_steps" else 0)
        if self.n_extra_unlabeled and self.dataset != "svhn":
            raise ValueError(f"n_extra_unlabeled={self.n_extra_unlabeled} needs dataset='svhn' (its 'extra' split)")
        if self.max_train is not None:
            _at_least("max_train", self.max_train, 1)
            if self.n_labels > self.max_train:
                raise ValueError(f"n_labels={self.n_labels} is more than max_train={self.max_train} images")
        return self

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Build from a dict, rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}; known parameters: {sorted(known)}")
        return cls(**values)

    def replace(self, **changes):
        """A validated copy with ``changes`` applied."""
        return RunConfig.from_dict({**self.to_dict(), **changes})


_HINTS = typing.get_type_hints(RunConfig)
_KINDS = {int: "an integer", float: "a number", bool: "True or False", str: "a string",
          List[str]: "a list of strings"}


def _check_type(name, value, hint):
    """Raise ValueError unless ``value`` fits the annotation ``hint`` (Optional[X] also takes None).

    A float field takes an int (papermill passes ``-p lr 1`` as one) and refuses NaN and +/-infinity
    (which would pass every range check below and fail later, e.g. inside the optimizer); ints and
    floats refuse bools.
    """
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) is typing.Union and type(None) in args
    if optional:
        if value is None:
            return
        hint = next(a for a in args if a is not type(None))
    ok = {int: is_int, float: is_number, bool: lambda v: isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          List[str]: lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v)}[hint](value)
    if not ok:
        raise ValueError(f"{name}={value!r} must be {_KINDS[hint]}" + (" or None" if optional else "")
                         + f"; got {type(value).__name__}")
    if hint is float and not is_finite(value):
        raise ValueError(f"{name}={value!r} must be a finite number" + (" or None" if optional else "")
                         + " (not NaN or infinity)")


def _at_least(name, value, low):
    if value < low:
        raise ValueError(f"{name}={value!r} must be >= {low}")
