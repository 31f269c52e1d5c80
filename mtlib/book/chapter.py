"""What every chapter that trains shares: its runs' config from the parameters cell, and the scale in words.

A training chapter's ``parameters`` cell holds the chapter's own knobs, then ``PARAMETERS_BLOCK``:
one ``name = None`` line per RunConfig field, so that ``papermill -p NAME VALUE`` sets any field
without papermill calling it unknown. ``None`` there means "the CPU scale"
(``mtlib.scales.CPU_SCALE``, the one place its values are written); the string ``"none"`` sets an
optional field (``classes``, ``max_train``, ...) to None itself.
"""
from dataclasses import fields
from fractions import Fraction

from mtlib.config import RunConfig
from mtlib.runs import grid
from mtlib.scales import ALL_LABELED, CPU_GRIDS, CPU_SCALE, SMOKE

FIELDS = {f.name: f for f in fields(RunConfig)}
PARAMETERS_COMMENT = ('# Any RunConfig field (None: the CPU scale, mtlib.scales.CPU_SCALE; "none": None itself);'
                      " e.g. papermill -p steps 6000")
PARAMETERS_BLOCK = "\n".join([PARAMETERS_COMMENT] + [f"{name} = None" for name in FIELDS])
DATASET_NAMES = {"cifar10": "CIFAR-10", "svhn": "SVHN", "imagefolder": "image folder"}
ARCH_NAMES = {"convnet13": "ConvNet-13", "resnet26_shakeshake": "ResNet-26 shake-shake"}
PAPER_SCALE_KNOBS = ("classes", "max_train", "max_test", "image_size", "width")


def chapter_config(namespace, **chapter_fixed):
    """The chapter's base RunConfig: CPU_SCALE, then every field set in ``namespace`` (the notebook's
    ``globals()``, where papermill put its ``-p`` values; None: not set, "none": None itself), then
    what the chapter itself fixes. RunConfig checks every value and names a bad one."""
    chosen = {k: None if isinstance(v, str) and v.lower() == "none" else v
              for k, v in namespace.items() if k in FIELDS and v is not None}
    return RunConfig(**{**CPU_SCALE, **chosen, **chapter_fixed})


def method_weights(namespace):
    """{method: consistency weight} of the chapter's method comparisons: each semi-supervised
    method's own weight, chosen on validation error (``CPU_GRIDS["method_weights"]``, results
    chapter); {} (every method at the base's weight) when the notebook sets ``consistency_weight``."""
    return {} if namespace.get("consistency_weight") is not None else dict(CPU_GRIDS["method_weights"])


def with_weights(configs, weights):
    """Each config at its method's weight in ``weights`` (others unchanged)."""
    return [c.replace(consistency_weight=weights.get(c.method, c.consistency_weight)) for c in configs]


def label_curve_configs(base, label_counts, seeds, methods, weights):
    """The runs of the error-against-labels curve (the shape of Tables 1-2): every method x label count
    x paired seed at its weight in ``weights``; at all labels (``n == base.max_train``) the all-labeled
    batches (``mtlib.scales.ALL_LABELED``), as ``cpu-label-curve`` runs them."""
    configs = []
    for n in label_counts:
        at_n = base.replace(**(ALL_LABELED if n == base.max_train else {}))
        configs += with_weights(grid(at_n, n_labels=[n], seed=seeds, method=methods), weights)
    return configs


def chapter_grids(namespace, *names):
    """The chapter's grid knobs (seeds, label counts, swept values), in the order asked: the
    notebook's value, or for None the CPU scale's (``mtlib.scales.CPU_GRIDS``, the one place they live)."""
    values = [CPU_GRIDS[n] if namespace.get(n) is None else namespace[n] for n in names]
    return values[0] if len(values) == 1 else values


def scale_name(config):
    """"CPU scale", "smoke scale", "paper scale", or "CPU scale with ..." naming what differs."""
    values = config.to_dict()
    changed = {k: values[k] for k in CPU_SCALE if values[k] != CPU_SCALE[k]}
    if not changed:
        return "CPU scale"
    if all(k in SMOKE and SMOKE[k] == v for k, v in changed.items()):
        return "smoke scale"
    if all(values[k] == FIELDS[k].default for k in PAPER_SCALE_KNOBS):
        return "paper scale"
    return "CPU scale with " + ", ".join(f"{k}={v!r}" for k, v in changed.items())


def describe_scale(config):
    """One line for titles and printouts, e.g. "CPU scale: 4 CIFAR-10 classes (JPEG copy), 8000
    training images at 16x16, ConvNet-13 at width 1/8, 3000 steps"."""
    name = DATASET_NAMES[config.dataset]
    copy = " (JPEG copy)" if config.dataset == "cifar10" else ""
    data = f"{len(config.classes)} {name} classes{copy}" if config.classes else f"{name}{copy}"
    images = f"{config.max_train} training images" if config.max_train else "all training images"
    model = ARCH_NAMES[config.arch]
    if config.arch == "convnet13":
        model += f" at width {Fraction(config.width).limit_denominator(64)}"
    return (f"{scale_name(config)}: {data}, {images} at {config.image_size}x{config.image_size}, "
            f"{model}, {config.steps} steps")


def describe_setup(config):
    """The run's setup in a few lines, from the config itself (so the text cannot drift from the runs)."""
    c = config
    classes = f"{len(c.classes)} classes ({', '.join(c.classes)})" if c.classes else "all classes"
    images = c.max_train or "all"
    batch = (f"{c.labeled_per_batch} labeled + {c.batch_size - c.labeled_per_batch} unlabeled images"
             if c.labeled_per_batch is not None else f"{c.batch_size} images drawn from the whole set with a label mask")
    lines = [f"data: {DATASET_NAMES[c.dataset]}{' (JPEG copy)' if c.dataset == 'cifar10' else ''}, {classes}, "
             f"{images} training images at {c.image_size}x{c.image_size}; test: "
             f"{c.max_test or 'all'} test images of those classes",
             f"labels: {c.n_labels} (the other training images are unlabeled)",
             f"network: {ARCH_NAMES[c.arch]}" + (f" at width {Fraction(c.width).limit_denominator(64)}"
                                                 if c.arch == "convnet13" else ""),
             f"training: {c.steps} {c.optimizer} steps on batches of {batch}",
             f"consistency weight: ramped up to {c.consistency_weight:g} over the first {c.rampup_steps} steps, "
             f"applied to {'the unlabeled' if c.consistency_on == 'unlabeled' else 'all'} images of a batch",
             f"EMA decay: {c.ema_decay:g} ({c.ema_schedule})"]
    return "\n".join(lines)
