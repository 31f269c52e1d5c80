"""Virtual adversarial training and its Mean Teacher combinations (mtlib.training.adversarial,
mtlib.training.methods.vat), with values checked by hand on a linear softmax model."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mtlib.config import RunConfig
from mtlib.data.splits import NO_LABEL
from mtlib.models import ConvNet13, frozen_statistics
from mtlib.results import LATER_DEFAULTS, identity, run_key
from mtlib.training import ema as ema_lib
from mtlib.training import adversarial
from mtlib.training.adversarial import (entropy, kl_to_target, replayed_draws, rng_snapshot, unit_per_image,
                                        virtual_adversarial_perturbation)
from mtlib.training.losses import classification_cost
from mtlib.training.methods import make_method
from mtlib.training.trainer import Trainer
from test_target_logging import _other_hidden_labels
from test_trainer import tiny_cfg, tiny_data

VAT_KNOBS = {"vat_epsilon": 8.0, "vat_xi": 1e-6, "vat_power_iterations": 1, "vat_weight": 1.0,
             "vat_entmin_weight": 0.0, "vat_target": "student"}
# every new method and option: (method, config changes)
ARMS = [("vat", {}), ("vat", {"vat_entmin_weight": 1.0}), ("mean_teacher_vat", {}),
        ("mean_teacher_vat", {"vat_target": "teacher"})]
ARM_IDS = ["vat", "vat+entmin", "mt_vat-student", "mt_vat-teacher"]


def identity_noise(x, generator):
    return x


# ----------------------------------------------------------------- a linear softmax model, by hand
def linear_problem(seed=0, n=5, dim=6, classes=4):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(classes, dim, generator=g, dtype=torch.float64)
    b = torch.randn(classes, generator=g, dtype=torch.float64)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    return w, b, x


def kl_hessians(w, b, x):
    """Per image, the Hessian in r of KL(p(x) || p(x + r)) at r = 0 for logits W x + b: W^T (diag p - p p^T) W."""
    p = F.softmax(x @ w.T + b, dim=1)
    return torch.stack([w.T @ (torch.diag(pi) - torch.outer(pi, pi)) @ w for pi in p])


def mean_kl(logits, target):
    return kl_to_target(logits, target).mean()


def test_unit_per_image_is_unit_norm_and_keeps_zero_images():
    """vat_tf's two guards: 1e-12 beside max |d| and 1e-6 under the root; both vanish for gradients far
    above 1e-12 (a gradient below ~1e-15 is shrunk, as in vat_tf), and a zero direction stays 0."""
    scales = torch.tensor([1e-9, 1.0, 1e3, 1e-18, 0.0]).view(5, 1, 1, 1)
    d = torch.randn(5, 3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * scales
    norms = unit_per_image(d).flatten(1).norm(dim=1)
    assert torch.allclose(norms[:3], torch.ones(3, dtype=torch.float64), atol=1e-3 * 1e-3)
    assert norms[3] < 0.1 and norms[4] == 0


@pytest.mark.parametrize("eps", [0.5, 8.0])
def test_r_adv_has_norm_epsilon_per_image(eps):
    w, b, x = linear_problem()
    r = virtual_adversarial_perturbation(lambda z: z @ w.T + b, x, x @ w.T + b, mean_kl, eps, 1e-6,
                                         torch.Generator().manual_seed(1))
    assert torch.allclose(r.norm(dim=1), torch.full((len(x),), eps, dtype=torch.float64), rtol=1e-6)


def test_one_iteration_is_one_power_step_from_the_drawn_direction():
    """g at r = xi d is xi H d + O(xi^2): r_adv = eps H d / ||H d|| with H computed by hand and d the
    generator's draw (vat_tf's single iteration)."""
    w, b, x = linear_problem()
    eps, seed = 2.0, 3
    r = virtual_adversarial_perturbation(lambda z: z @ w.T + b, x, x @ w.T + b, mean_kl, eps, 1e-5,
                                         torch.Generator().manual_seed(seed))
    d = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    hd = torch.einsum("nij,nj->ni", kl_hessians(w, b, x), d)
    expected = eps * hd / hd.norm(dim=1, keepdim=True)
    assert torch.allclose(r, expected, atol=1e-4 * eps)
    cos_random = F.cosine_similarity(r, d, dim=1).abs()
    assert (cos_random < 0.99).all()        # one step moved d: the test is not trivially true


def test_many_iterations_converge_to_the_dominant_eigenvector_of_the_kl_hessian():
    w, b, x = linear_problem()
    hessians = kl_hessians(w, b, x)
    values, vectors = torch.linalg.eigh(hessians)
    top = vectors[:, :, -1]                                  # eigh sorts ascending
    assert (values[:, -1] > 1.2 * values[:, -2]).all()       # an eigengap, so the power method converges
    r = virtual_adversarial_perturbation(lambda z: z @ w.T + b, x, x @ w.T + b, mean_kl, 1.0, 1e-5,
                                         torch.Generator().manual_seed(0), n_power_iterations=60)
    assert (F.cosine_similarity(r, top, dim=1).abs() > 1 - 1e-6).all()
    one = virtual_adversarial_perturbation(lambda z: z @ w.T + b, x, x @ w.T + b, mean_kl, 1.0, 1e-5,
                                           torch.Generator().manual_seed(0), n_power_iterations=1)
    assert (F.cosine_similarity(one, top, dim=1).abs() < 1 - 1e-3).any()   # one step only approximates it


def test_no_gradient_flows_through_r_adv_or_the_target():
    w, b, x = linear_problem()
    w.requires_grad_()
    x = x.clone().requires_grad_()
    target = x @ w.T + b                                           # carries a graph to w and x
    r = virtual_adversarial_perturbation(lambda z: z @ w.T + b, x, target, mean_kl, 1.0, 1e-6,
                                         torch.Generator().manual_seed(0))
    assert not r.requires_grad and r.grad_fn is None
    assert w.grad is None and x.grad is None                       # the power iteration left no gradients


def setup_linear(method, **changes):
    torch.manual_seed(0)
    student = nn.Linear(3, 4)
    teacher = ema_lib.make_teacher(student)
    with torch.no_grad():
        for p in teacher.parameters():
            p.mul_(0.5)
    cfg = RunConfig(method=method, steps=10, rampup_steps=0, rampdown_steps=0, **changes)
    m = make_method(method, student, teacher, cfg, identity_noise, torch.Generator().manual_seed(7), 6, 4)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([1, NO_LABEL, NO_LABEL, 2, NO_LABEL, NO_LABEL])
    return m, student, x, labels


@pytest.mark.parametrize("consistency_on", ["all", "unlabeled"])
def test_vat_loss_gradient_is_that_of_constant_target_and_constant_r_adv(consistency_on):
    """The method's gradient is that of class cost + KL(clean || f(x + r_adv)) with the clean prediction
    and r_adv constants; with consistency_on='unlabeled' labeled images are neither perturbed nor costed."""
    m, student, x, labels = setup_linear("vat", vat_epsilon=0.7, consistency_on=consistency_on)
    loss, stats = m.loss(x, labels, torch.arange(6), 0, weight=123.0)   # the consistency weight is not VAT's
    loss.backward()
    got = [p.grad.clone() for p in student.parameters()]
    student.zero_grad()
    mask = torch.ones(6) if consistency_on == "all" else (labels == NO_LABEL).float()
    target = student(x).detach()
    divergence = lambda logits, t: (kl_to_target(logits, t) * mask).mean()
    r = virtual_adversarial_perturbation(student, x, target, divergence, 0.7, 1e-6, torch.Generator().manual_seed(7))
    assert torch.allclose(r.norm(dim=1), 0.7 * mask, atol=1e-5)
    manual = classification_cost(student(x), labels) + divergence(student(x + r), target)
    manual.backward()
    for g, p in zip(got, student.parameters()):
        assert torch.allclose(g, p.grad, atol=1e-6)
    assert torch.allclose(stats["loss"], manual.detach(), atol=1e-6)


def test_entmin_adds_the_mean_entropy_of_the_clean_predictions():
    m, student, x, labels = setup_linear("vat", vat_entmin_weight=0.5, consistency_on="all")
    plain, _ = setup_linear("vat", consistency_on="all")[0].loss(x, labels, torch.arange(6), 0, 1.0)
    loss, stats = m.loss(x, labels, torch.arange(6), 0, 1.0)
    p = F.softmax(student(x), dim=1)
    by_hand = -(p * p.log()).sum(1).mean()
    assert torch.allclose(stats["entropy"], by_hand.detach(), atol=1e-6)
    assert torch.allclose(loss, plain + 0.5 * by_hand, atol=1e-6)
    assert torch.allclose(entropy(torch.zeros(2, 4)), torch.full((2,), math.log(4)))


# ------------------------------------------------------- the ConvNet: statistics, dropout, determinism
def convnet(norm, seed=0):
    torch.manual_seed(seed)
    return ConvNet13(num_classes=3, width=0.0625, dropout=0.5, norm=norm).train()


def stats_buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked", "eval_mean"))}


@pytest.mark.parametrize("norm", ["batchnorm", "weightnorm"])
def test_frozen_statistics_leaves_running_stats_and_eval_means(norm):
    model = convnet(norm)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    before = stats_buffers(model)
    assert before
    torch.manual_seed(5)
    with frozen_statistics(model):
        frozen_out = model(x)
    for k, v in stats_buffers(model).items():
        assert torch.equal(v, before[k]), k
    torch.manual_seed(5)
    assert torch.equal(model(x), frozen_out)          # the same batch-statistics normalisation, unfrozen
    changed = [k for k, v in stats_buffers(model).items() if not torch.equal(v, before[k])]
    assert changed                                    # and the flags are back: this pass updated them


@pytest.mark.parametrize("norm", ["batchnorm", "weightnorm"])
@pytest.mark.parametrize("method, changes", ARMS, ids=ARM_IDS)
def test_adversarial_passes_update_no_statistics_and_leave_the_rng_as_found(norm, method, changes):
    """After a VAT loss the student's statistics (BN running stats, mean-only BN eval means) are those of
    its one training pass alone, and torch's random stream is where that one pass left it."""
    data_x = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1] + [NO_LABEL] * 8)
    student = convnet(norm)
    reference = copy.deepcopy(student)
    teacher = ema_lib.make_teacher(student)
    cfg = RunConfig(method=method, steps=10, rampup_steps=0, rampdown_steps=0, **changes)
    m = make_method(method, student, teacher, cfg, identity_noise, torch.Generator().manual_seed(3), 10, 3)
    r_adv = {}
    if changes.get("vat_target") == "teacher":     # the student's pass is at x + r_adv: replay it on the copy
        original = m._perturbation
        m._perturbation = lambda *a: r_adv.setdefault("r", original(*a))
    teacher_copy = copy.deepcopy(teacher).train()
    torch.manual_seed(11)
    m.loss(data_x, labels, torch.arange(10), 0, weight=1.0)
    after_loss = torch.get_rng_state()
    torch.manual_seed(11)
    if method == "mean_teacher_vat":               # the teacher's pass comes first and draws its masks
        with torch.no_grad():
            teacher_copy(data_x)
    reference(data_x + r_adv.get("r", 0.0))        # one plain training pass
    for k, v in stats_buffers(reference).items():
        assert torch.equal(stats_buffers(student)[k], v), k
    assert torch.equal(torch.get_rng_state(), after_loss)


def test_vat_cost_is_zero_at_epsilon_zero_with_dropout_on():
    """r_adv = 0 and the adversarial pass replays the clean pass's dropout masks: the cost is exactly 0."""
    student = convnet("batchnorm")
    cfg = RunConfig(method="vat", vat_epsilon=0.0, steps=10, rampup_steps=0, rampdown_steps=0)
    m = make_method("vat", student, ema_lib.make_teacher(student), cfg, identity_noise,
                    torch.Generator().manual_seed(3), 10, 3)
    x = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    _, stats = m.loss(x, torch.tensor([0, 1] + [NO_LABEL] * 8), torch.arange(10), 0, 1.0)
    assert stats["vat_cost"] == 0.0
    snapshot = rng_snapshot("cpu")
    with replayed_draws(snapshot):
        a = torch.rand(3)
    b = torch.rand(3)
    assert torch.equal(a, b)                        # the block drew what follows the snapshot


@pytest.mark.parametrize("changes", [{"vat_target": "teacher", "vat_epsilon": 0.0}, {"vat_weight": 0.0}],
                         ids=["teacher-eps0", "student-weight0"])
def test_mean_teacher_vat_reduces_to_mean_teacher(changes):
    """(b) at epsilon 0 and (a) at VAT weight 0 give Mean Teacher's loss and gradients bit for bit, and
    leave torch's random stream where Mean Teacher leaves it."""
    x = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1] + [NO_LABEL] * 8)
    out = {}
    for method, extra in (("mean_teacher", {}), ("mean_teacher_vat", changes)):
        student = convnet("weightnorm")
        teacher = ema_lib.make_teacher(student)
        cfg = RunConfig(method=method, steps=10, rampup_steps=0, rampdown_steps=0, **extra)
        noise = lambda z, g: z + 0.1 * torch.randn(z.shape, generator=g)
        m = make_method(method, student, teacher, cfg, noise, torch.Generator().manual_seed(3), 10, 3)
        torch.manual_seed(4)
        loss, _ = m.loss(x, labels, torch.arange(10), 0, weight=2.0)
        loss.backward()
        out[method] = (loss.detach(), [p.grad for p in student.parameters()], torch.get_rng_state(),
                       m.take_predictions())
    (la, ga, ra, pa), (lb, gb, rb, pb) = out.values()
    assert torch.equal(la, lb) and torch.equal(ra, rb)
    assert all(torch.equal(a, b) for a, b in zip(ga, gb))
    assert torch.equal(pa[0], pb[0]) and torch.equal(pa[1], pb[1])


@pytest.mark.parametrize("method, changes", ARMS, ids=ARM_IDS)
def test_trainer_run_is_deterministic_and_logs_target_accuracy(method, changes):
    data = tiny_data()
    cfg = tiny_cfg(method=method, labeled_per_batch=5, **changes)
    a = Trainer(cfg, data).run(progress=False)
    b = Trainer(cfg, data).run(progress=False)
    assert a.history == b.history
    for row in a.history:
        assert 0.0 <= row["train_target_accuracy"] <= 100.0 and 0.0 <= row["train_student_accuracy"] <= 100.0
        assert ("train_vat_cost" in row) == (changes.get("vat_target") != "teacher")
        assert ("train_entropy" in row) == ("vat_entmin_weight" in changes)
    c = Trainer(cfg.replace(seed=1), data).run(progress=False)
    assert c.history != a.history


@pytest.mark.parametrize("method, changes", [ARMS[0], ARMS[3]], ids=[ARM_IDS[0], ARM_IDS[3]])
def test_hidden_labels_cannot_reach_the_vat_losses(method, changes):
    data = tiny_data()
    cfg = tiny_cfg(method=method, labeled_per_batch=5, steps=8, **changes)
    ra = Trainer(cfg, data).run(progress=False)
    rb = Trainer(cfg, _other_hidden_labels(data, "constant")).run(progress=False)
    for row_a, row_b in zip(ra.history, rb.history):
        assert {k: v for k, v in row_a.items() if k.startswith("train_") and "accuracy" not in k} == \
               {k: v for k, v in row_b.items() if k.startswith("train_") and "accuracy" not in k}


def test_vat_logs_the_adversarial_prediction_against_the_clean_target():
    m, student, x, labels = setup_linear("vat", vat_epsilon=5.0, consistency_on="all")
    m.loss(x, labels, torch.arange(6), 0, 1.0)
    adv_pred, target = m.take_predictions()
    assert torch.equal(target, student(x).detach())
    assert not torch.allclose(adv_pred, target)          # the student's input was x + r_adv


def test_power_iteration_runs_in_float32_under_bf16_autocast(monkeypatch):
    """precision is how a run is computed, not what: r_adv under bf16 autocast is the float32 one."""
    found = []
    original = adversarial.virtual_adversarial_perturbation

    def record(*args, **kwargs):
        found.append(original(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr("mtlib.training.methods.vat.virtual_adversarial_perturbation", record)
    x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0] + [NO_LABEL] * 5)
    for bf16 in (False, True):
        student = convnet("batchnorm")
        cfg = RunConfig(method="vat", steps=10, rampup_steps=0, rampdown_steps=0, vat_epsilon=1.0)
        m = make_method("vat", student, ema_lib.make_teacher(student), cfg, identity_noise,
                        torch.Generator().manual_seed(3), 6, 3)
        torch.manual_seed(2)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            m.loss(x, labels, torch.arange(6), 0, 1.0)
    assert torch.equal(found[0], found[1])


# ---------------------------------------------------------------------------------- the config
@pytest.mark.parametrize("changes, names", [
    ({"vat_epsilon": -1.0}, "vat_epsilon=-1.0 must be >= 0"),
    ({"vat_epsilon": float("nan")}, "vat_epsilon"),
    ({"vat_xi": 0.0}, "vat_xi=0.0 must be > 0"),
    ({"vat_power_iterations": 0}, "vat_power_iterations=0 must be >= 1"),
    ({"vat_power_iterations": 1.5}, "vat_power_iterations=1.5 must be an integer"),
    ({"vat_weight": -0.5}, "vat_weight"),
    ({"vat_entmin_weight": -1.0}, "vat_entmin_weight"),
    ({"vat_target": "both"}, "vat_target='both' is unknown; choose one of 'student', 'teacher'"),
    ({"method": "vat", "vat_target": "teacher"}, "vat_target='teacher' needs method='mean_teacher_vat'"),
    ({"method": "mean_teacher", "vat_target": "teacher"}, "vat_target='teacher' needs"),
])
def test_config_refuses_bad_vat_values_by_name(changes, names):
    with pytest.raises(ValueError, match=names):
        RunConfig(**changes)


def test_vat_knobs_keep_old_results_identities():
    """Every VAT knob is in LATER_DEFAULTS at its RunConfig default, so a results file written before
    them keeps its key; any other value is a new identity."""
    cfg = RunConfig(method="mean_teacher")
    assert {k: LATER_DEFAULTS[k] for k in VAT_KNOBS} == VAT_KNOBS == {k: getattr(cfg, k) for k in VAT_KNOBS}
    old = {k: v for k, v in cfg.to_dict().items() if k not in VAT_KNOBS}
    assert run_key(old) == run_key(cfg.to_dict()) and not set(VAT_KNOBS) & set(identity(cfg.to_dict()))
    assert run_key(cfg.replace(vat_epsilon=2.0).to_dict()) != run_key(cfg.to_dict())
    assert RunConfig(method="vat", vat_epsilon=8).vat_epsilon == 8.0
