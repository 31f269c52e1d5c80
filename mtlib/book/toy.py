"""Figure 1 of the paper, actually trained: confirmation bias on a 1-D two-class problem.

Data (:func:`make_toy_data`): class 0 is a wide cluster N(mu0, sd0^2), class 1 a narrow cluster
N(mu1, sd1^2); the two labeled points sit at x=-1 (class 0) and x=+1 (class 1), so a fit to the
labeled points alone puts the boundary near 0, inside the wide class-0 cluster, while the
low-density gap between the clusters (the best boundary) lies further right. Unlabeled and test
points are drawn from the clusters (half each); a test point's true label is its cluster.

Panels (:func:`fit_panel`), all full-batch Adam on :class:`mtlib.models.ToyNet`. (a)-(e) follow
Figure 1; (s), (p) and (w) are added so that each change from (c) to (e) can be seen alone:

- ``"a"``: cross-entropy on the two labeled points only (no regularisation);
- ``"b"``: cross-entropy on Gaussian input noise (sigma) around the labeled points;
- ``"c"``, ``"d"``, ``"s"``, ``"p"``, ``"e"``, ``"w"``: as (b) plus ``weight * softmax_mse(student(noisy x_u),
  target)`` on the unlabeled points (the consistency cost J of Sec. 2), the weight following the
  sigmoid ramp-up of Appendix B over the first quarter of the steps in every one of them. They
  differ only in the target (:func:`teacher_logits`):

  - ``"c"``: a frozen teacher at the clean point; the teacher is panel (a)'s fit (Fig. 1c: "first
    fitted to the labeled examples, and then left unchanged");
  - ``"d"``: the same frozen teacher, each target the mean of ``n_teacher_noise`` noisy teacher
    predictions (Fig. 1d): the target is averaged, the teacher does not train;
  - ``"s"``: a self-teacher: the target is the student's own clean prediction, without gradient
    (the model "assumes a dual role as a teacher and a student", Sec. 1, with no noise on the
    teacher): the teacher trains, its targets are neither noisy nor averaged;
  - ``"p"``: the Pi model (Laine & Aila; Sec. 1): the teacher *is* the student, in a second noisy
    pass, and the gradient flows through both passes: the teacher trains, nothing is averaged;
  - ``"e"``: Mean Teacher: the teacher is an EMA of the student's weights (decay ``ema_decay``,
    Sec. 2), one noisy pass, no gradient: the teacher trains *and* its weights are averaged (Fig. 1e);
  - ``"w"``: as (p) with the consistency weight ``large_weight``: "if too much weight is given to
    the generated targets, the cost of inconsistency outweighs that of misclassification" (Sec. 1).

Results files: :func:`fit_or_load` keeps each trained panel as a keyed record of
:mod:`mtlib.results` (``book/results/toy/`` for the chapter); the plots are in :mod:`mtlib.book.toy_plots`,
the summaries and paired comparisons over seeds in :mod:`mtlib.book.toy_study`.

Set-up choices (defaults below; the chapter book/confirmation_bias.ipynb prints every number). With symmetric clusters N(-1, 0.35^2), N(1, 0.35^2) the labeled
midpoint 0 is already the best boundary, so there is no bias to confirm (every panel got 0.1-0.4 %
test error, seeds 0-2). Class 0 at mu0=-0.5, sd0=0.35 and class 1 at mu1=1.0, sd1=0.12 (best
boundary 0.59) make the labeled-only fit wrong. EMA decay 0.9: the teacher averages over about
1/(1 - 0.9) = 10 steps of a 400-step run; with 0.97 and 0.99 it lagged behind its student (seeds 0-3:
mean test error of (e) 1.0 % and 3.1 % against 0.3 % at 0.9), while at 1200 steps 0.97 caught up.
"""
import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from mtlib.checks import check_choice, check_int, check_number, check_positive
from mtlib.data.splits import NO_LABEL
from mtlib.models import ToyNet
from mtlib.runs import compute_or_load
from mtlib.training.ema import check_decay, ema_update, make_teacher
from mtlib.training.losses import classification_cost, softmax_mse
from mtlib.training.ramps import sigmoid_rampup

PANELS = ("a", "b", "c", "d", "s", "p", "e", "w")
CAPTIONS = {
    "a": "no regularisation",
    "b": "noise around labeled points",
    "c": "frozen teacher: its boundary kept",
    "d": "frozen teacher, averaged targets",
    "s": "self-teacher: own clean prediction",
    "p": "Π model: teacher = student",
    "e": "mean teacher (EMA)",
    "w": "Π model, too-large weight",
}
# What the target of each consistency panel is: (does the teacher train?, is the target averaged?)
TEACHERS = {"c": ("frozen", "one clean prediction"), "d": ("frozen", "mean over input noise"),
            "s": ("the student itself, no gradient", "one clean prediction"),
            "p": ("the student itself", "one noisy prediction"), "e": ("EMA of the student", "EMA over weights"),
            "w": ("the student itself", "one noisy prediction")}
LABELED_X = (-1.0, 1.0)


@dataclass
class ToyData:
    """The 1-D data set: labeled (2 points), unlabeled and test points as (N, 1) floats, int64 labels."""
    x_labeled: torch.Tensor
    y_labeled: torch.Tensor
    x_unlabeled: torch.Tensor
    y_unlabeled: torch.Tensor  # true cluster, used only for measuring, never for training
    x_test: torch.Tensor
    y_test: torch.Tensor
    best_boundary: float  # where the two cluster densities are equal (between the means)


@dataclass
class PanelResult:
    """What one panel produced. Probabilities are P(class 1 | x); ``teacher_prob`` is None in (a), (b)."""
    panel: str
    seed: int
    grid: torch.Tensor
    student_prob: torch.Tensor
    teacher_prob: torch.Tensor = None
    x_unlabeled: torch.Tensor = None
    targets: torch.Tensor = None  # P(class 1) of the expected consistency target at the unlabeled points
    target_error: float = None  # mean (target - true label)^2 over the unlabeled points
    test_error: float = 0.0
    teacher_test_error: float = None
    model: torch.nn.Module = field(default=None, repr=False)  # the trained student
    boundary: float = 0.0  # first grid point where the student's P(class 1) reaches 1/2
    teacher_boundary: float = None  # the same for the teacher
    labeled_fit: float = 0.0  # the student's mean P(true class) at the two (clean) labeled points
    sigma: float = 0.0  # the input noise standard deviation used in training
    consistency_weight: float = None  # the weight after ramp-up (None in (a), (b))
    ema_decay: float = None  # only in (e)
    data: ToyData = field(default=None, repr=False)

    @property
    def max_margin(self):
        """max |P(class 1 | x) - 1/2| of the student over the grid: near 0 means a flat, undecided student."""
        return float((self.student_prob - 0.5).abs().max())


def make_toy_data(seed=0, n_unlabeled=100, n_test=2000, mu0=-0.5, sd0=0.35, mu1=1.0, sd1=0.12):
    """Two labeled points at x=-1 (class 0) and x=+1 (class 1); unlabeled and test points drawn
    half from each cluster with a ``torch.Generator`` seeded by ``seed``."""
    check_int("n_unlabeled", n_unlabeled, low=1)
    check_int("n_test", n_test, low=1)
    check_positive("sd0", sd0)
    check_positive("sd1", sd1)
    if not mu0 < mu1:
        raise ValueError(f"mu0={mu0} must be < mu1={mu1} (class 0 left of class 1)")
    g = torch.Generator().manual_seed(seed)

    def draw(n):
        y = (torch.arange(n) >= n // 2).long()
        mu = torch.where(y == 1, torch.tensor(float(mu1)), torch.tensor(float(mu0)))
        sd = torch.where(y == 1, torch.tensor(float(sd1)), torch.tensor(float(sd0)))
        return (mu + sd * torch.randn(n, generator=g)).unsqueeze(1), y

    x_u, y_u = draw(n_unlabeled)
    x_t, y_t = draw(n_test)
    grid = torch.linspace(mu0, mu1, 2001)
    logpdf = lambda x, m, s: -0.5 * ((x - m) / s) ** 2 - torch.log(torch.tensor(float(s)))
    best = float(grid[(logpdf(grid, mu1, sd1) >= logpdf(grid, mu0, sd0)).nonzero()[0, 0]])
    return ToyData(torch.tensor(LABELED_X).unsqueeze(1), torch.tensor([0, 1]), x_u, y_u, x_t, y_t, best)


@torch.no_grad()
def _init(model, g):
    """PyTorch's default nn.Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from ``g``."""
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            bound = m.in_features ** -0.5
            m.weight.uniform_(-bound, bound, generator=g)
            m.bias.uniform_(-bound, bound, generator=g)
    return model


def _prob1(model, x):
    with torch.no_grad():
        return F.softmax(model(x), dim=1)[:, 1]


def _error(model, x, y):
    return float((_prob1(model, x) >= 0.5).long().ne(y).float().mean())


def _grid():
    """The 401 points over [-2, 2] where every panel's curves are evaluated."""
    return torch.linspace(-2.0, 2.0, 401)


def _boundary(grid, prob):
    above = (prob >= 0.5).nonzero()
    return float(grid[above[0, 0]]) if len(above) else float("nan")


def _noisy(x, sigma, g):
    return x + sigma * torch.randn(x.shape, generator=g)


def _fit_labeled(model, data, steps, lr, sigma, g):
    """Cross-entropy on the labeled points (with input noise ``sigma`` if > 0); full batch, Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = data.x_labeled.repeat(16, 1) if sigma > 0 else data.x_labeled
    y = data.y_labeled.repeat(16) if sigma > 0 else data.y_labeled
    for _ in range(steps):
        xi = _noisy(x, sigma, g) if sigma > 0 else x
        loss = classification_cost(model(xi), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@contextlib.contextmanager
def _one_thread():
    """Tiny tensors: one intra-op thread is fastest, and avoids stalls on a busy shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def noise_averaged_logits(model, x, sigma, n, g):
    """log of the mean of ``n`` softmax outputs at noisy copies of ``x`` (Fig. 1d: "the expected
    direction of stochastic gradient descent is towards the mean of individual noisy targets"), as
    logits for :func:`softmax_mse`. No gradient."""
    with torch.no_grad():
        probs = torch.stack([F.softmax(model(_noisy(x, sigma, g)), 1) for _ in range(n)]).mean(0)
    return probs.clamp_min(1e-12).log()


def teacher_logits(panel, student, teacher, x_u, sigma, g, fixed=None):
    """The consistency target (logits) at the unlabeled points ``x_u`` for one step of ``panel``.

    (c), (d): ``fixed``, computed once from the frozen teacher; (s): the student's own clean prediction,
    without gradient (self-training); (p), (w): the student itself at a new noisy copy, *with* gradient (Pi model: "applies training to theta'", Sec. 2); (e): the EMA
    teacher at a new noisy copy, without gradient (Mean Teacher).
    """
    if panel in ("c", "d"):
        return fixed
    if panel == "s":
        with torch.no_grad():
            return student(x_u)
    if panel in ("p", "w"):
        return student(_noisy(x_u, sigma, g))
    with torch.no_grad():
        return teacher(_noisy(x_u, sigma, g))


def fit_panel(panel, seed=0, steps=400, sigma=0.15, ema_decay=0.9, n_unlabeled=100,
              consistency_weight=10.0, large_weight=1000.0, n_teacher_noise=16, lr=0.01, hidden=64,
              depth=2, data=None, teacher=None):
    """Train panel ``panel`` (one of :data:`PANELS`, see the module docstring) and measure it.

    ``seed`` fixes the data (unless ``data`` is given), the network initialisations and every noise
    draw: panel (a)'s network and the frozen teacher of (c), (d) share one initialisation (so that
    teacher *is* panel (a)'s fit), the students of (b)-(w) share another. ``teacher``: panel (a)'s
    fitted model for the same seed and data, to skip refitting it in (c), (d) (:func:`fit_all` does).
    ``large_weight`` is the consistency weight of (w) only. Returns a :class:`PanelResult` with
    curves on a grid over [-2, 2] and the test error.
    """
    check_choice("panel", panel, PANELS)
    check_int("steps", steps, low=1)
    check_int("n_teacher_noise", n_teacher_noise, low=1)
    check_positive("consistency_weight", consistency_weight)
    check_positive("large_weight", large_weight)
    check_positive("lr", lr)
    check_number("sigma", sigma, low=0)
    check_decay(ema_decay)
    if teacher is not None and panel not in ("c", "d"):
        raise ValueError(f"teacher= is only used by panels 'c' and 'd'; pass teacher=None for panel={panel!r}")
    with _one_thread():
        return _fit_panel(panel, seed, steps, sigma, ema_decay, n_unlabeled,
                          large_weight if panel == "w" else consistency_weight,
                          n_teacher_noise, lr, hidden, depth, data, teacher)


def _fit_panel(panel, seed, steps, sigma, ema_decay, n_unlabeled, weight, n_teacher_noise, lr, hidden,
               depth, data, teacher):
    data = make_toy_data(seed, n_unlabeled) if data is None else data
    g = torch.Generator().manual_seed(seed + 3000)  # noise draws
    init_a = lambda: _init(ToyNet(hidden=hidden, depth=depth), torch.Generator().manual_seed(seed + 1000))
    student = init_a() if panel == "a" else _init(ToyNet(hidden=hidden, depth=depth),
                                                   torch.Generator().manual_seed(seed + 2000))
    grid = _grid()
    x_u = data.x_unlabeled
    teacher_out, fixed = None, None
    if panel in ("a", "b"):
        _fit_labeled(student, data, steps, lr, sigma if panel == "b" else 0.0, g)
    else:
        if panel in ("c", "d"):
            teacher_out = make_teacher(teacher if teacher is not None else _fit_labeled(init_a(), data, steps, lr, 0.0, g))
            fixed = teacher_out(x_u).detach() if panel == "c" else noise_averaged_logits(
                teacher_out, x_u, sigma, n_teacher_noise, g)
        elif panel == "e":
            teacher_out = make_teacher(student)
        x = torch.cat([data.x_labeled.repeat(8, 1), x_u])
        y = torch.cat([data.y_labeled.repeat(8), torch.full((len(x_u),), NO_LABEL)])
        unl = y == NO_LABEL
        opt = torch.optim.Adam(student.parameters(), lr=lr)
        for step in range(steps):
            s_logits = student(_noisy(x, sigma, g))
            t_logits = teacher_logits(panel, student, teacher_out, x_u, sigma, g, fixed)
            ramped = weight * sigmoid_rampup(step, steps // 4)
            loss = classification_cost(s_logits, y) + ramped * softmax_mse(s_logits[unl], t_logits)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if panel == "e":
                ema_update(teacher_out, student, ema_decay)
        if panel in ("s", "p", "w"):
            teacher_out = student

    student_prob = _prob1(student, grid.unsqueeze(1))
    with torch.no_grad():
        labeled_fit = float(F.softmax(student(data.x_labeled), 1).gather(1, data.y_labeled[:, None]).mean())
    result = PanelResult(panel, seed, grid, student_prob, test_error=_error(student, data.x_test, data.y_test),
                         boundary=_boundary(grid, student_prob), labeled_fit=labeled_fit, sigma=float(sigma),
                         data=data, model=student)
    if teacher_out is not None:
        # the expected target at the end: fixed in (c), (d); the student's clean prediction in (s); the
        # final teacher's mean over its input noise otherwise
        t = fixed if fixed is not None else (teacher_out(x_u).detach() if panel == "s" else
                                             noise_averaged_logits(teacher_out, x_u, sigma, n_teacher_noise, g))
        result.targets = t.softmax(1)[:, 1]
        result.teacher_prob = _prob1(teacher_out, grid.unsqueeze(1))
        result.teacher_boundary = _boundary(grid, result.teacher_prob)
        result.teacher_test_error = _error(teacher_out, data.x_test, data.y_test)
        result.x_unlabeled = x_u[:, 0]
        result.target_error = float(((result.targets - data.y_unlabeled.float()) ** 2).mean())
        result.consistency_weight = float(weight)
        result.ema_decay = float(ema_decay) if panel == "e" else None
    return result


def fit_all(seeds, panels=PANELS, results_dir=None, retrain=False, **kwargs):
    """``{seed: {panel: PanelResult}}`` for every seed and panel; ``kwargs`` go to :func:`fit_panel`.
    With ``results_dir``, each panel is loaded from its results file when one exists for exactly its
    parameters (:func:`fit_or_load`), and trained and saved otherwise."""
    out = {}
    for seed in seeds:
        row = {}
        if any(p in panels for p in "acd"):  # panel (a)'s fit is the frozen teacher of (c), (d)
            row["a"] = fit_or_load("a", seed, results_dir, retrain, **kwargs)
        for p in panels:
            if p != "a":   # a loaded (a) has no model: then (c), (d) refit it, which gives the same teacher
                row[p] = fit_or_load(p, seed, results_dir, retrain, teacher=row["a"].model if p in "cd" else None,
                                     **kwargs)
        out[seed] = {p: row[p] for p in panels}
    return out


def sweep(knob, values, seed=0, panel="e", results_dir=None, retrain=False, **kwargs):
    """``[fit_panel(panel, seed, knob=v, **kwargs) for v in values]``: one panel over one knob (the
    chapter's sliders over ``consistency_weight`` and ``ema_decay``); ``results_dir`` as in :func:`fit_all`."""
    if knob in kwargs:
        raise ValueError(f"{knob}= is swept; leave it out of the other keyword arguments")
    return [fit_or_load(panel, seed, results_dir, retrain, **{knob: v}, **kwargs) for v in values]


# ---- results files: the chapter loads its trained panels instead of training them on every build ----
# One record per panel and seed, through the keyed records of mtlib.results / mtlib.runs (the same rule
# as a training run's file: found by its parameters and a version, written atomically, with provenance).
TOY_VERSION = 2   # 2: panel (s) added, records of mtlib.results; bump when fit_panel computes other numbers
FIT_DEFAULTS = dict(steps=400, sigma=0.15, ema_decay=0.9, n_unlabeled=100, consistency_weight=10.0,
                    large_weight=1000.0, n_teacher_noise=16, lr=0.01, hidden=64, depth=2)
_INTS = ("steps", "n_unlabeled", "n_teacher_noise", "hidden", "depth")
_TENSORS = ("student_prob", "teacher_prob", "targets")   # the grid and the points are regenerated
_SCALARS = ("target_error", "test_error", "teacher_test_error", "boundary", "teacher_boundary", "labeled_fit",
            "sigma", "consistency_weight", "ema_decay")


def panel_params(panel, seed, **kwargs):
    """Everything that decides one panel's result: the panel, the seed and every parameter of
    :func:`fit_panel` (defaults filled in; 10 and 10.0 are one value)."""
    check_choice("panel", panel, PANELS)
    unknown = set(kwargs) - set(FIT_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown toy parameter(s) {sorted(unknown)}; fit_panel takes {sorted(FIT_DEFAULTS)}")
    params = {**FIT_DEFAULTS, **kwargs}
    return {"panel": panel, "seed": int(seed),
            **{k: int(v) if k in _INTS else float(v) for k, v in params.items()}}


def record_name(params):
    """The readable part of a panel's file name, ``toy-<panel>-seed<seed>`` (the key follows it)."""
    return f"toy-{params['panel']}-seed{params['seed']}"


def to_record(result):
    """A :class:`PanelResult` as a dict of JSON values: its curves (float32 values, written so that
    they read back bit for bit) and scalars; its model, data and grid are not kept (the key regenerates them)."""
    as_list = lambda t: None if t is None else [float(str(v)) for v in t.numpy().astype(np.float32)]
    return {**{n: as_list(getattr(result, n)) for n in _TENSORS}, **{n: getattr(result, n) for n in _SCALARS}}


def from_record(params, data):
    """The :class:`PanelResult` of a record's ``data``, with its data set and grid regenerated from
    ``params`` and no model."""
    toy_data = make_toy_data(params["seed"], params["n_unlabeled"])
    tensors = {n: None if data[n] is None else torch.tensor(data[n], dtype=torch.float32) for n in _TENSORS}
    x_u = toy_data.x_unlabeled[:, 0] if tensors["targets"] is not None else None
    return PanelResult(params["panel"], params["seed"], _grid(), data=toy_data, x_unlabeled=x_u, **tensors,
                       **{n: data[n] for n in _SCALARS})


def fit_or_load(panel, seed=0, results_dir=None, retrain=False, teacher=None, **kwargs):
    """:func:`fit_panel`, through a results file in ``results_dir`` keyed by :func:`panel_params` and
    :data:`TOY_VERSION` (:func:`mtlib.runs.compute_or_load`): loaded when it exists (unless ``retrain``),
    trained and saved otherwise. ``results_dir=None``: always train, save nothing. A loaded result has
    no ``model``."""
    if results_dir is None:
        return fit_panel(panel, seed=seed, teacher=teacher, **kwargs)
    params = panel_params(panel, seed, **kwargs)
    fresh = []
    compute = lambda: to_record(fresh.append(fit_panel(panel, seed=seed, teacher=teacher, **kwargs)) or fresh[0])
    data, loaded = compute_or_load(results_dir, record_name(params), params, TOY_VERSION, compute, retrain)
    return from_record(params, data) if loaded else fresh[0]
