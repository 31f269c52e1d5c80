"""Figure 1 of the paper, actually trained: confirmation bias on a 1-D two-class problem.

Data (:func:`make_toy_data`): class 0 is a wide cluster N(mu0, sd0^2), class 1 a narrow cluster
N(mu1, sd1^2); the two labeled points sit at x=-1 (class 0) and x=+1 (class 1), so a fit to the
labeled points alone puts the boundary near 0, inside the wide class-0 cluster, while the
low-density gap between the clusters (the best boundary) lies further right. Unlabeled and test
points are drawn from the clusters (half each); a test point's true label is its cluster.

Panels (:func:`fit_panel`), all full-batch Adam on :class:`mtlib.models.ToyNet`. (a)-(e) follow
Figure 1; (p) and (w) are added so that each change from (c) to (e) can be seen alone:

- ``"a"``: cross-entropy on the two labeled points only (no regularisation);
- ``"b"``: cross-entropy on Gaussian input noise (sigma) around the labeled points;
- ``"c"``, ``"d"``, ``"p"``, ``"e"``, ``"w"``: as (b) plus ``weight * softmax_mse(student(noisy x_u),
  target)`` on the unlabeled points (the consistency cost J of Sec. 2), the weight following the
  sigmoid ramp-up of Appendix B over the first quarter of the steps in every one of them. They
  differ only in the target (:func:`teacher_logits`):

  - ``"c"``: a frozen teacher at the clean point; the teacher is panel (a)'s fit (Fig. 1c: "first
    fitted to the labeled examples, and then left unchanged");
  - ``"d"``: the same frozen teacher, each target the mean of ``n_teacher_noise`` noisy teacher
    predictions (Fig. 1d): the target is averaged, the teacher does not train;
  - ``"p"``: the Pi model (Laine & Aila; Sec. 1): the teacher *is* the student, in a second noisy
    pass, and the gradient flows through both passes: the teacher trains, nothing is averaged;
  - ``"e"``: Mean Teacher: the teacher is an EMA of the student's weights (decay ``ema_decay``,
    Sec. 2), one noisy pass, no gradient: the teacher trains *and* its weights are averaged (Fig. 1e);
  - ``"w"``: as (p) with the consistency weight ``large_weight``: "if too much weight is given to
    the generated targets, the cost of inconsistency outweighs that of misclassification" (Sec. 1).

Set-up choices (defaults below; the chapter book/confirmation_bias.ipynb prints every number, from
the results files of :func:`fit_or_load` in ``book/results/toy/``, which training at its defaults writes). With symmetric clusters N(-1, 0.35^2), N(1, 0.35^2) the labeled
midpoint 0 is already the best boundary, so there is no bias to confirm (every panel got 0.1-0.4 %
test error, seeds 0-2). Class 0 at mu0=-0.5, sd0=0.35 and class 1 at mu1=1.0, sd1=0.12 (best
boundary 0.59) make the labeled-only fit wrong. EMA decay 0.9: the teacher averages over about
1/(1 - 0.9) = 10 steps of a 400-step run; with 0.97 and 0.99 it lagged behind its student (seeds 0-3:
mean test error of (e) 1.0 % and 3.1 % against 0.3 % at 0.9), while at 1200 steps 0.97 caught up.
"""
import base64
import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mtlib.book import stats
from mtlib.checks import check_choice, check_int, check_number, check_positive
from mtlib.data.splits import NO_LABEL
from mtlib.models import ToyNet
from mtlib.training.ema import check_decay, ema_update, make_teacher
from mtlib.training.losses import classification_cost, softmax_mse
from mtlib.training.ramps import sigmoid_rampup

PANELS = ("a", "b", "c", "d", "p", "e", "w")
CAPTIONS = {
    "a": "no regularisation",
    "b": "noise around labeled points",
    "c": "frozen teacher: its boundary kept",
    "d": "frozen teacher, averaged targets",
    "p": "Π model: teacher = student",
    "e": "mean teacher (EMA)",
    "w": "Π model, too-large weight",
}
# What the target of each consistency panel is: (does the teacher train?, is the target averaged?)
TEACHERS = {"c": ("frozen", "one clean prediction"), "d": ("frozen", "mean over input noise"),
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

    (c), (d): ``fixed``, computed once from the frozen teacher; (p), (w): the student itself at a
    new noisy copy, *with* gradient (Pi model: "applies training to theta'", Sec. 2); (e): the EMA
    teacher at a new noisy copy, without gradient (Mean Teacher).
    """
    if panel in ("c", "d"):
        return fixed
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
    grid = torch.linspace(-2.0, 2.0, 401)
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
        if panel in ("p", "w"):
            teacher_out = student

    student_prob = _prob1(student, grid.unsqueeze(1))
    with torch.no_grad():
        labeled_fit = float(F.softmax(student(data.x_labeled), 1).gather(1, data.y_labeled[:, None]).mean())
    result = PanelResult(panel, seed, grid, student_prob, test_error=_error(student, data.x_test, data.y_test),
                         boundary=_boundary(grid, student_prob), labeled_fit=labeled_fit, sigma=float(sigma),
                         data=data, model=student)
    if teacher_out is not None:
        # the expected target at the end: fixed in (c), (d); the final teacher's mean over noise otherwise
        t = fixed if fixed is not None else noise_averaged_logits(teacher_out, x_u, sigma, n_teacher_noise, g)
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
TOY_RESULTS_VERSION = 1   # bump when fit_panel's computation changes: older files are then not loaded
_FIT_DEFAULTS = dict(steps=400, sigma=0.15, ema_decay=0.9, n_unlabeled=100, consistency_weight=10.0,
                     large_weight=1000.0, n_teacher_noise=16, lr=0.01, hidden=64, depth=2)
_INTS = ("steps", "n_unlabeled", "n_teacher_noise", "hidden", "depth")
_TENSORS = ("grid", "student_prob", "teacher_prob", "x_unlabeled", "targets")
_SCALARS = ("target_error", "test_error", "teacher_test_error", "boundary", "teacher_boundary", "labeled_fit",
            "sigma", "consistency_weight", "ema_decay")


def panel_key(panel, seed, **kwargs):
    """Everything that decides one panel's result: the panel, the seed, every parameter of
    :func:`fit_panel` (defaults filled in; 10 and 10.0 are one value) and ``TOY_RESULTS_VERSION``."""
    check_choice("panel", panel, PANELS)
    unknown = set(kwargs) - set(_FIT_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown toy parameter(s) {sorted(unknown)}; fit_panel takes {sorted(_FIT_DEFAULTS)}")
    params = {**_FIT_DEFAULTS, **kwargs}
    params = {k: int(v) if k in _INTS else float(v) for k, v in params.items()}
    return {"panel": panel, "seed": int(seed), **params, "version": TOY_RESULTS_VERSION}


def panel_path(results_dir, key):
    """``results_dir/toy-<panel>-seed<seed>-<hash of the key>.json``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(results_dir) / f"toy-{key['panel']}-seed{key['seed']}-{digest}.json"


def _encode(t):
    """A float32 tensor as base64 of its little-endian bytes (exact, and compact), or None."""
    return None if t is None else base64.b64encode(t.numpy().astype("<f4").tobytes()).decode("ascii")


def _decode(s):
    return None if s is None else torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype="<f4").copy())


def save_panel(result, key, results_dir):
    """Write one :class:`PanelResult` (all but its model and data, which the key regenerates) to
    :func:`panel_path`; returns the path."""
    path = panel_path(results_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"key": key, "torch": torch.__version__,
              "tensors": {n: _encode(getattr(result, n)) for n in _TENSORS},
              "scalars": {n: getattr(result, n) for n in _SCALARS}}
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def load_panel(path):
    """The :class:`PanelResult` saved at ``path``, with its data regenerated from the key and no model."""
    record = json.loads(Path(path).read_text())
    key = record["key"]
    if key.get("version") != TOY_RESULTS_VERSION:
        raise ValueError(f"{path}: toy results version {key.get('version')}, not {TOY_RESULTS_VERSION}")
    return PanelResult(key["panel"], key["seed"], data=make_toy_data(key["seed"], key["n_unlabeled"]),
                       **{n: _decode(v) for n, v in record["tensors"].items()}, **record["scalars"])


def fit_or_load(panel, seed=0, results_dir=None, retrain=False, teacher=None, **kwargs):
    """:func:`fit_panel`, through a results file in ``results_dir`` keyed by :func:`panel_key`: loaded
    when it exists (unless ``retrain``), trained and saved otherwise. ``results_dir=None``: always train,
    save nothing. A loaded result has no ``model``."""
    if results_dir is None:
        return fit_panel(panel, seed=seed, teacher=teacher, **kwargs)
    key = panel_key(panel, seed, **kwargs)
    path = panel_path(results_dir, key)
    if path.exists() and not retrain:
        return load_panel(path)
    result = fit_panel(panel, seed=seed, teacher=teacher, **kwargs)
    save_panel(result, key, results_dir)
    return result


METRICS = ("test_error", "teacher_test_error", "target_error", "boundary", "teacher_boundary", "labeled_fit",
           "max_margin")


def metric(results, panel, name="test_error"):
    """``{seed: getattr(result, name)}`` of one panel over ``fit_all``'s output."""
    check_choice("name", name, METRICS)
    return {s: getattr(row[panel], name) for s, row in results.items()}


def error_summary(results):
    """Per panel: test errors over the seeds of ``fit_all``'s output, their mean and sample std, and
    per seed every other metric of :data:`METRICS`."""
    seeds = list(results)
    out = {}
    for p in next(iter(results.values())):
        errs = torch.tensor([results[s][p].test_error for s in seeds], dtype=torch.float64)
        std = float(errs.std()) if len(errs) > 1 else 0.0
        out[p] = {"seeds": seeds, "errors": errs.tolist(), "mean": float(errs.mean()), "std": std}
        out[p].update({m: list(metric(results, p, m).values()) for m in METRICS[1:]})
        out[p]["teacher_error"] = out[p]["teacher_test_error"]
    return out


def _mean(values):
    return sum(values) / len(values) if values and values[0] is not None else None


def format_summary(summary):
    """A plain-text table of :func:`error_summary`: test error (%) per seed and mean +/- std, the mean
    boundary of student and teacher, the teacher's mean test error (%), the mean target error (Brier
    score of the consistency targets against the true labels) and the mean P(true class) at the labeled points."""
    seeds = next(iter(summary.values()))["seeds"]
    head = f"{'panel / seed':<38}" + "".join(f"{s:>6}" for s in seeds)
    lines = [head + f"{'mean +/- std':>16}{'bound.':>8}{'teacher':>8}{'t.bound.':>9}{'target err':>11}{'labeled':>8}"]
    fmt = lambda v, spec, w: format(v, spec) if v is not None else f"{'-':>{w}}"
    for p, row in summary.items():
        errs = "".join(f"{100 * e:6.1f}" for e in row["errors"])
        tch = _mean(row["teacher_test_error"])
        lines.append(f"({p}) {CAPTIONS[p]:<34}{errs}{100 * row['mean']:9.2f} +/- {100 * row['std']:4.2f}"
                     f"{_mean(row['boundary']):+8.2f}{fmt(tch and 100 * tch, '8.2f', 8)}"
                     f"{fmt(_mean(row['teacher_boundary']), '+9.2f', 9)}{fmt(_mean(row['target_error']), '11.4f', 11)}"
                     f"{_mean(row['labeled_fit']):8.3f}")
    return "\n".join(lines)


@dataclass
class PanelComparison:
    """Metric ``name`` of panel ``a`` minus metric ``name_b`` of panel ``b``, seed by seed (the seeds
    are paired: same data, same student initialisation, same noise generator)."""
    a: str
    b: str
    name: str
    name_b: str
    seeds: list
    diffs: list  # a - b per seed
    n_lower: int  # seeds where a's value is strictly lower than b's
    mean: float
    std: float  # sample std of the per-seed differences (0.0 for one seed)

    @property
    def interval(self):
        """(low, high): the 95 % t interval of the mean per-seed difference (None for one seed)."""
        return stats.t_interval(self.diffs)[1:] if len(self.diffs) > 1 else None

    def __str__(self):
        scale, unit = (100, " points") if self.name.endswith("test_error") else (1, "")
        per = " ".join(f"{scale * d:+.2f}" for d in self.diffs)
        what = f"{self.name}" if self.name == self.name_b else f"{self.name} - {self.name_b}"
        ci = (f"95% interval [{scale * self.interval[0]:+.2f}, {scale * self.interval[1]:+.2f}]"
              if self.interval else "no interval (one seed)")
        return (f"({self.a}) - ({self.b}) {what}: mean {scale * self.mean:+.2f}{unit}, {ci}; "
                f"({self.a}) lower on {self.n_lower} of {len(self.seeds)} seeds; per seed: {per}")


def compare(results, a, b, name="test_error", name_b=None):
    """:class:`PanelComparison` of panels ``a`` and ``b`` over the seeds of ``fit_all``'s output, in
    metric ``name`` (of panel ``b``: ``name_b``, default the same; e.g. a student against its teacher)."""
    name_b = name if name_b is None else name_b
    va, vb = metric(results, a, name), metric(results, b, name_b)
    seeds = list(va)
    if any(v is None for v in list(va.values()) + list(vb.values())):
        raise ValueError(f"panel {a!r} or {b!r} has no {name}/{name_b} (panels 'a' and 'b' have no teacher)")
    diffs = torch.tensor([va[s] - vb[s] for s in seeds], dtype=torch.float64)
    std = float(diffs.std()) if len(seeds) > 1 else 0.0
    return PanelComparison(a, b, name, name_b, seeds, diffs.tolist(), int((diffs < 0).sum()), float(diffs.mean()), std)


def plot_panel(r, ax=None, title=None):
    """Draw one :class:`PanelResult` on ``ax`` (a new figure if None): the student (black), the
    teacher (grey dashed), the labeled points (large dots), the unlabeled points at the height of
    their expected consistency target (along the bottom where there is none), the best boundary
    (dotted). ``title``: default "(panel) caption / test error". Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.2))
    d = r.data
    ax.axvline(d.best_boundary, color="tab:green", ls=":", lw=1.5, label="best boundary")
    if r.panel == "b" and r.sigma > 0:  # a few of the noisy labeled samples (small dots)
        xs = d.x_labeled.repeat(12, 1) + r.sigma * torch.randn(24, 1, generator=torch.Generator().manual_seed(0))
        ax.scatter(xs[:, 0], d.y_labeled.repeat(12).float(), s=14, color="tab:blue", alpha=0.6,
                   edgecolors="white", lw=0.4, zorder=6, label="noisy labeled")
    if r.targets is not None:
        ax.scatter(r.x_unlabeled, r.targets, s=22, facecolors="none", edgecolors="k", lw=0.8,
                   label="unlabeled (at target)")
    else:
        ax.scatter(d.x_unlabeled[:, 0], torch.full((len(d.x_unlabeled),), -0.06), s=22,
                   facecolors="none", edgecolors="k", lw=0.8, label="unlabeled")
    if r.teacher_prob is not None and r.panel not in ("p", "w"):  # in (p), (w) the teacher is the student
        ax.plot(r.grid, r.teacher_prob, color="0.55", ls="--", lw=2, label="teacher")
    ax.plot(r.grid, r.student_prob, color="k", lw=2, label="student")
    ax.scatter(d.x_labeled[:, 0], d.y_labeled.float(), s=110, color="tab:blue", zorder=5, label="labeled")
    ax.set_title(title or f"({r.panel}) {CAPTIONS[r.panel]}\ntest error {100 * r.test_error:.1f}%", fontsize=10)
    ax.set_xlim(float(r.grid[0]), float(r.grid[-1]))
    ax.set_xticks([-2, -1, 0, 1, 2])
    ax.set_ylim(-0.12, 1.08)
    ax.set_xlabel("x")
    ax.set_ylabel("P(class 1 | x)")
    return ax.figure


def plot_figure1(results, ncols=4):
    """Figure 1 from :class:`PanelResult` s (a list, or a dict by panel), ``ncols`` panels a row,
    with one shared legend in the first free cell (or below). Returns the figure."""
    import matplotlib.pyplot as plt

    results = list(results.values()) if isinstance(results, dict) else list(results)
    if not results:
        raise ValueError("results is empty; pass at least one PanelResult")
    nrows = -(-len(results) // ncols)
    fig, ax = plt.subplots(nrows, ncols, figsize=(3.9 * ncols, 3.3 * nrows), sharey=True, squeeze=False)
    ax = ax.ravel()
    for a, r in zip(ax, results):
        plot_panel(r, a)
    for a in ax[1:]:
        if a.get_subplotspec().colspan.start:
            a.set_ylabel("")
    handles = {}
    for a in ax[:len(results)]:
        for h, lab in zip(*a.get_legend_handles_labels()):
            handles.setdefault(lab.replace(" (at target)", " (at its target)"), h)
    if len(results) < len(ax):
        for a in ax[len(results):]:
            a.axis("off")
        ax[len(results)].legend(handles.values(), handles.keys(), loc="center", frameon=False)
        fig.tight_layout()
    else:
        fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), frameon=False)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def sweep_figures(results, knob):
    """One figure per :class:`PanelResult` of :func:`sweep`, titled by the swept ``knob``'s value
    (for :func:`mtlib.book.widgets.precomputed_slider`); every figure has the same size and axes."""
    figs = []
    for r in results:
        value = {"consistency_weight": r.consistency_weight, "ema_decay": r.ema_decay}[knob]
        title = (f"({r.panel}) {CAPTIONS[r.panel]}, seed {r.seed}, {knob} = {value:g}\n"
                 f"test error {100 * r.test_error:.1f}%, boundary {r.boundary:+.2f}")
        figs.append(plot_panel(r, title=title))
    return figs
