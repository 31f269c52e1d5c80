"""FLOPs of a run: its network's passes per image, counted by torch, and a training step's FLOPs per image.

Counted with ``torch.utils.flop_counter.FlopCounterMode`` on a batch of 2 in training mode (the mode
every training pass runs in, the teacher's included), divided by 2. torch counts matrix
multiplications and convolutions (a multiply-add is 2 FLOPs), the operations that dominate these
networks; elementwise operations, normalisation, activations, pooling, the costs, the optimiser and
the EMA update are not counted. The networks are built on torch's ``meta`` device, so a count computes
nothing: it follows the shapes of the passes only.

Three kinds of pass, each measured (none assumed to be a multiple of the forward pass):

* ``forward``: a forward pass without gradient (Mean Teacher's teacher).
* ``gradient``: a forward pass whose cost is backpropagated to the weights, ``loss.backward()`` run
  under the counter: the backward pass computes each layer's weight gradient and the gradient of its
  input, except the first layer's input gradient, which no training pass needs (the images do not
  require a gradient). Measured at 2.995 x forward for ConvNet-13 and 3.002 x for the ResNet-26
  (torch counts a strided convolution's input gradient as the transposed convolution it is).
* ``input_gradient``: a forward pass differentiated with respect to its input only, as VAT's power
  iteration does (``torch.autograd.grad`` with respect to the probe r): every layer's input gradient,
  no weight gradient.

A training step's FLOPs per image of its batch are the method's passes (:func:`method_passes`) times
their measured costs; every pass of these methods runs on the whole batch, labeled and unlabeled
images together. Evaluation is left out.
"""
import functools

import torch
from torch.utils.flop_counter import FlopCounterMode

from mtlib.checks import check_choice, check_int, is_finite
from mtlib.config import RunConfig
from mtlib.models import build_model, split_heads

PASS_KINDS = ("forward", "gradient", "input_gradient")
COUNT_BATCH = 2                 # images of the counted batch (the counts are per image)
DEFAULT_CLASSES = 10            # CIFAR-10 and SVHN
# the methods whose passes :func:`method_passes` counts (tests/test_flops.py: every method of METHOD_CLASSES)
METHODS = ("supervised", "pi", "temporal_ensembling", "mean_teacher", "vat", "mean_teacher_vat")
VAT_TARGETS = ("student", "teacher")


def _count(fn):
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _loss(output, heads):
    """The sum of ``heads`` ("all" or "consistency") of a network's output: a scalar to differentiate."""
    class_logits, cons_logits = split_heads(output)
    if heads == "consistency" or cons_logits is class_logits:
        return cons_logits.sum()
    return class_logits.sum() + cons_logits.sum()


def pass_flops_per_image(model, input_shape, batch=COUNT_BATCH):
    """{pass kind: FLOPs per image} of ``model`` on inputs of ``input_shape`` (one image's shape, e.g.
    (3, 32, 32)), counted on a batch of ``batch`` in training mode (module docstring). The inputs are
    made on the device of the model's first parameter (the ``meta`` device: nothing is computed). The
    gradient pass differentiates the sum of every head, the input-gradient pass the consistency head's
    (``mtlib.models.split_heads``), as VAT's power iteration does."""
    check_int("batch", batch, low=1)
    device = next(model.parameters()).device
    x = torch.zeros((batch, *input_shape), device=device)
    was_training = model.training
    model.train()
    try:
        forward = _count(lambda: model(x))
        gradient = _count(lambda: _loss(model(x), "all").backward())
        probe = torch.zeros_like(x, requires_grad=True)
        input_gradient = _count(lambda: torch.autograd.grad(_loss(model(x + probe), "consistency"), [probe]))
    finally:
        model.train(was_training)
        model.zero_grad(set_to_none=True)
    return {"forward": forward / batch, "gradient": gradient / batch, "input_gradient": input_gradient / batch}


def _config(cfg):
    return cfg if isinstance(cfg, RunConfig) else RunConfig.from_dict(dict(cfg))


def _classes(cfg, num_classes):
    if num_classes is not None:
        check_int("num_classes", num_classes, low=1)
        return num_classes
    return len(cfg.classes) if cfg.classes else DEFAULT_CLASSES


@functools.lru_cache(maxsize=None)
def _network_pass_flops(arch, width, dropout, two_heads, convnet_norm, image_size, num_classes):
    net = RunConfig(arch=arch, width=width, dropout=dropout, two_heads=two_heads, convnet_norm=convnet_norm)
    with torch.device("meta"):
        model = build_model(net, num_classes=num_classes)
    return pass_flops_per_image(model, (3, image_size, image_size))


def network_pass_flops(cfg, num_classes=None):
    """:func:`pass_flops_per_image` of the network of the run ``cfg`` (a RunConfig or its dict) at its
    input size (3 x ``image_size`` x ``image_size``); ``num_classes`` None: the run's classes
    (``classes``), else 10 (CIFAR-10, SVHN)."""
    cfg = _config(cfg)
    return dict(_network_pass_flops(cfg.arch, cfg.width, cfg.dropout, cfg.two_heads, cfg.convnet_norm,
                                    cfg.image_size, _classes(cfg, num_classes)))


def forward_flops_per_image(cfg, num_classes=None):
    """Forward FLOPs per image of the run's network at its input size (:func:`network_pass_flops`)."""
    return network_pass_flops(cfg, num_classes)["forward"]


def method_passes(method, vat_target="student", vat_power_iterations=1, bf16=True):
    """{pass kind: passes} that ``method`` makes on each image of a training batch (``PASS_KINDS``; module
    docstring), read from ``mtlib/training/methods/``:

    * ``supervised``: 1 gradient pass (``supervised.py``, ``Supervised.loss``: the student on the noisy
      batch; its batches hold labeled images only).
    * ``pi``: 2 gradient passes (``pi_model.py``, ``PiModel.loss``: ``out_a`` and ``out_b``, both the
      student, the consistency gradient flowing through both).
    * ``temporal_ensembling``: 1 gradient pass (``temporal_ensembling.py``, ``TemporalEnsembling.loss``;
      the targets are the stored ensemble predictions, no pass).
    * ``mean_teacher``: 1 forward pass, the teacher under ``no_grad``, and 1 gradient pass, the student
      (``mean_teacher.py``, ``MeanTeacher.loss``).
    * ``vat``: 2 gradient passes, the student at x and the adversarial pass at x + r_adv, both in the
      cost (``vat.py``, ``VAT.loss`` and ``_vat_cost``); ``vat_power_iterations`` input-gradient passes,
      the power iteration (``adversarial.py``, ``virtual_adversarial_perturbation``: ``forward(x + r)``
      and ``torch.autograd.grad`` with respect to r); under bf16 autocast 1 forward pass more, the
      float32 reference prediction without gradient (``_vat_cost``).
    * ``mean_teacher_vat``: the teacher's forward pass (``vat.py``, ``MeanTeacherVAT.loss``) and
      ``vat_power_iterations`` input-gradient passes, then with ``vat_target="student"`` (a) 2 gradient
      passes, the student and its own VAT cost's adversarial pass (and the bf16 reference forward pass, as
      ``vat``), with ``vat_target="teacher"`` (b) 1 gradient pass, the student at x + r_adv (the power
      iteration starts from the teacher's prediction: no reference pass).

    ``bf16``: whether the run computes under bf16 autocast (``precision="auto"`` on a GPU with native
    bf16); only VAT's reference pass depends on it."""
    check_choice("method", method, METHODS)
    check_choice("vat_target", vat_target, VAT_TARGETS)
    check_int("vat_power_iterations", vat_power_iterations, low=1)
    if vat_target != "student" and method != "mean_teacher_vat":
        raise ValueError(f"vat_target={vat_target!r} needs method='mean_teacher_vat'; method={method!r} "
                         f"takes vat_target='student'")
    if not isinstance(bf16, bool):
        raise ValueError(f"bf16={bf16!r} must be True or False")
    if method in ("supervised", "temporal_ensembling"):
        return {"forward": 0, "gradient": 1, "input_gradient": 0}
    if method == "pi":
        return {"forward": 0, "gradient": 2, "input_gradient": 0}
    if method == "mean_teacher":
        return {"forward": 1, "gradient": 1, "input_gradient": 0}
    teacher = int(method == "mean_teacher_vat")    # vat, mean_teacher_vat
    if vat_target == "teacher":
        return {"forward": teacher, "gradient": 1, "input_gradient": vat_power_iterations}
    return {"forward": teacher + int(bf16), "gradient": 2, "input_gradient": vat_power_iterations}


def training_flops_per_image(cfg, num_classes=None, bf16=True, pass_flops=None):
    """A training step's FLOPs per image of its batch: the passes of the run's method
    (:func:`method_passes`) times their costs, ``pass_flops`` ({pass kind: FLOPs per image}; None: the
    run's network measured, :func:`network_pass_flops`). The optimiser, the EMA update and evaluation are
    left out."""
    cfg = _config(cfg)
    passes = method_passes(cfg.method, cfg.vat_target, cfg.vat_power_iterations, bf16)
    costs = network_pass_flops(cfg, num_classes) if pass_flops is None else pass_flops
    return sum(n * costs[kind] for kind, n in passes.items())


def training_flops(cfg, num_classes=None, bf16=True):
    """A run's training FLOPs: steps x batch size x :func:`training_flops_per_image` (evaluation left out)."""
    cfg = _config(cfg)
    return cfg.steps * cfg.batch_size * training_flops_per_image(cfg, num_classes, bf16)


def gpu_hours(flops, sustained_tflops):
    """Hours that ``flops`` take at a sustained rate of ``sustained_tflops`` TFLOP/s (an assumed rate)."""
    if not is_finite(sustained_tflops) or sustained_tflops <= 0:
        raise ValueError(f"sustained_tflops={sustained_tflops!r} must be a finite number > 0 (TFLOP/s)")
    return flops / (sustained_tflops * 1e12) / 3600
