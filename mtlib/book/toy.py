"""Figure 1 of the paper, actually trained: confirmation bias on a 1-D two-class problem.

Data (:func:`make_toy_data`): class 0 is a wide cluster N(mu0, sd0^2), class 1 a narrow cluster
N(mu1, sd1^2); the two labeled points sit at x=-1 (class 0) and x=+1 (class 1), so a fit to the
labeled points alone puts the boundary near 0, inside the wide class-0 cluster, while the
low-density gap between the clusters (the best boundary) lies further right. Unlabeled and test
points are drawn from the clusters (half each); a test point's true label is its cluster.

Panels (:func:`fit_panel`, Figure 1 (a)-(e)), all full-batch Adam on :class:`mtlib.models.ToyNet`:

- ``"a"``: cross-entropy on the two labeled points only (no regularisation);
- ``"b"``: cross-entropy on Gaussian input noise (sigma) around the labeled points;
- ``"c"``: as (b) plus consistency (softmax MSE, :func:`mtlib.training.losses.softmax_mse`) between the
  student at noisy unlabeled points and a teacher evaluated *without* noise; the teacher is first
  fitted to the labeled points (panel (a)'s recipe) and then frozen, so its mistakes become targets;
- ``"d"``: as (c) but each target is the mean of ``n_teacher_noise`` noisy teacher predictions;
- ``"e"``: Mean Teacher: the teacher is an EMA of the student (:mod:`mtlib.training.ema`), both see noise,
  and the consistency weight follows the paper's sigmoid ramp-up (Appendix B).

Set-up choices and what was measured (defaults below; the chapter book/confirmation_bias.ipynb
recomputes everything, nothing is stored here). First tried: symmetric clusters N(-1, 0.35^2) and
N(1, 0.35^2). The labeled midpoint 0 is then already the best boundary, so there is no bias to
confirm: every panel got 0.1-0.4% test error (seeds 0-2). Moving class 0 to mu0=-0.5, sd0=0.35 and
class 1 to mu1=1.0, sd1=0.12 (best boundary 0.59) makes the labeled-only fit wrong. With sigma=0.15,
100 unlabeled points, consistency weight 10, EMA decay 0.97 and 400 steps, over seeds 0-9 (e) beat (c)
on every seed (mean test error 0.36% and 0.33% vs 3.54% and 2.92% for seeds 0-4 and 5-9). (d) beat
(c) on average in both test error and target error (Brier score of the targets), but not on every
seed (seed 8: 2.7% vs 2.5%): averaging over noise softens the teacher's wrong targets but barely
moves where it crosses 1/2.
"""
import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from mtlib.checks import check_choice, check_int, check_number, check_positive
from mtlib.data.splits import NO_LABEL
from mtlib.models import ToyNet
from mtlib.training.ema import check_decay, ema_update, make_teacher
from mtlib.training.losses import classification_cost, softmax_mse
from mtlib.training.ramps import sigmoid_rampup

PANELS = ("a", "b", "c", "d", "e")
CAPTIONS = {
    "a": "no regularisation",
    "b": "noise around labeled points",
    "c": "frozen teacher: bias copied",
    "d": "noisy frozen teacher",
    "e": "mean teacher (EMA)",
}
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
    targets: torch.Tensor = None  # the consistency targets P(class 1) at the unlabeled points
    target_error: float = None  # mean (target - true label)^2 over the unlabeled points
    test_error: float = 0.0
    teacher_test_error: float = None
    model: torch.nn.Module = field(default=None, repr=False)  # the trained student
    boundary: float = 0.0  # first grid point where the student's P(class 1) reaches 1/2
    sigma: float = 0.0  # the input noise standard deviation used in training
    data: ToyData = field(default=None, repr=False)


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


def _fit_labeled(model, data, steps, lr, sigma, g):
    """Cross-entropy on the labeled points (with input noise ``sigma`` if > 0); full batch, Adam."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = data.x_labeled.repeat(16, 1) if sigma > 0 else data.x_labeled
    y = data.y_labeled.repeat(16) if sigma > 0 else data.y_labeled
    for _ in range(steps):
        xi = x + sigma * torch.randn(x.shape, generator=g) if sigma > 0 else x
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


def fit_panel(panel, seed=0, steps=400, sigma=0.15, ema_decay=0.97, n_unlabeled=100,
              consistency_weight=10.0, n_teacher_noise=16, lr=0.01, hidden=64, depth=2, data=None,
              teacher=None):
    """Train Figure 1's panel ``panel`` ("a"-"e", see the module docstring) and measure it.

    ``seed`` fixes the data (unless ``data`` is given), the network initialisations and every noise
    draw: panel (a)'s network and the frozen teacher of (c), (d) share one initialisation (so that
    teacher *is* panel (a)'s fit), the students of (b)-(e) share another. ``teacher``: panel (a)'s
    fitted model for the same seed and data, to skip refitting it in (c), (d) (:func:`fit_all` does).
    Returns a :class:`PanelResult` with curves on a grid over [-2, 2] and the test error.
    """
    with _one_thread():
        return _fit_panel(panel, seed, steps, sigma, ema_decay, n_unlabeled, consistency_weight,
                          n_teacher_noise, lr, hidden, depth, data, teacher)


def _fit_panel(panel, seed, steps, sigma, ema_decay, n_unlabeled, consistency_weight, n_teacher_noise,
               lr, hidden, depth, data, teacher):
    check_choice("panel", panel, PANELS)
    check_int("steps", steps, low=1)
    check_int("n_teacher_noise", n_teacher_noise, low=1)
    check_positive("consistency_weight", consistency_weight)
    check_positive("lr", lr)
    check_number("sigma", sigma, low=0)
    check_decay(ema_decay)
    if teacher is not None and panel not in ("c", "d"):
        raise ValueError(f"teacher= is only used by panels 'c' and 'd'; pass teacher=None for panel={panel!r}")
    data = make_toy_data(seed, n_unlabeled) if data is None else data
    g = torch.Generator().manual_seed(seed + 3000)  # noise draws
    init_a = lambda: _init(ToyNet(hidden=hidden, depth=depth), torch.Generator().manual_seed(seed + 1000))
    if panel == "a":
        student = init_a()
    else:
        student = _init(ToyNet(hidden=hidden, depth=depth), torch.Generator().manual_seed(seed + 2000))
    grid = torch.linspace(-2.0, 2.0, 401)
    teacher, targets = None, None

    if panel in ("a", "b"):
        _fit_labeled(student, data, steps, lr, sigma if panel == "b" else 0.0, g)
    else:
        x_u = data.x_unlabeled
        x = torch.cat([data.x_labeled.repeat(8, 1), x_u])
        y = torch.cat([data.y_labeled.repeat(8), torch.full((len(x_u),), NO_LABEL)])
        unl = y == NO_LABEL
        if panel in ("c", "d"):
            if teacher is None:
                teacher = _fit_labeled(init_a(), data, steps, lr, 0.0, g)
            teacher = make_teacher(teacher)
            with torch.no_grad():
                if panel == "c":
                    fixed_target = teacher(x_u)
                else:  # mean of noisy teacher probabilities, turned back into logits for softmax_mse
                    noisy = torch.stack([F.softmax(teacher(x_u + sigma * torch.randn(x_u.shape, generator=g)), 1)
                                         for _ in range(n_teacher_noise)]).mean(0)
                    fixed_target = noisy.clamp_min(1e-12).log()
        else:
            teacher = make_teacher(student)
        opt = torch.optim.Adam(student.parameters(), lr=lr)
        for step in range(steps):
            s_logits = student(x + sigma * torch.randn(x.shape, generator=g))
            if panel == "e":
                with torch.no_grad():
                    t_logits = teacher(x_u + sigma * torch.randn(x_u.shape, generator=g))
                weight = consistency_weight * sigmoid_rampup(step, steps // 4)
            else:
                t_logits, weight = fixed_target, consistency_weight
            loss = classification_cost(s_logits, y) + weight * softmax_mse(s_logits[unl], t_logits)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if panel == "e":
                ema_update(teacher, student, ema_decay)
        with torch.no_grad():
            targets = fixed_target.softmax(1)[:, 1] if panel != "e" else _prob1(teacher, x_u)

    student_prob = _prob1(student, grid.unsqueeze(1))
    result = PanelResult(panel, seed, grid, student_prob, test_error=_error(student, data.x_test, data.y_test),
                         boundary=_boundary(grid, student_prob), sigma=float(sigma), data=data,
                         model=student)
    if teacher is not None:
        result.teacher_prob = _prob1(teacher, grid.unsqueeze(1))
        result.teacher_test_error = _error(teacher, data.x_test, data.y_test)
        result.x_unlabeled, result.targets = data.x_unlabeled[:, 0], targets
        result.target_error = float(((targets - data.y_unlabeled.float()) ** 2).mean())
    return result


def fit_all(seeds, panels=PANELS, **kwargs):
    """``{seed: {panel: PanelResult}}`` for every seed and panel; ``kwargs`` go to :func:`fit_panel`."""
    out = {}
    for seed in seeds:
        row = out[seed] = {}
        if any(p in panels for p in "acd"):  # panel (a)'s fit is the frozen teacher of (c), (d)
            row["a"] = fit_panel("a", seed=seed, **kwargs)
        for p in panels:
            if p != "a":
                row[p] = fit_panel(p, seed=seed, teacher=row["a"].model if p in "cd" else None, **kwargs)
        out[seed] = {p: row[p] for p in panels}
    return out


def error_summary(results):
    """Per panel: test errors over the seeds of ``fit_all``'s output, their mean and sample std."""
    seeds = list(results)
    out = {}
    for p in next(iter(results.values())):
        errs = torch.tensor([results[s][p].test_error for s in seeds], dtype=torch.float64)
        std = float(errs.std()) if len(errs) > 1 else 0.0
        out[p] = {"seeds": seeds, "errors": errs.tolist(), "mean": float(errs.mean()), "std": std,
                  "boundary": [results[s][p].boundary for s in seeds],
                  "target_error": [results[s][p].target_error for s in seeds],
                  "teacher_error": [results[s][p].teacher_test_error for s in seeds]}
    return out


def format_summary(summary):
    """A plain-text table of :func:`error_summary`: test error (%) per seed and mean +/- std,
    the mean boundary, the teacher's mean test error (%) and the mean target error (Brier score of
    the consistency targets against the true labels)."""
    seeds = next(iter(summary.values()))["seeds"]
    head = f"{'panel / seed':<34}" + "".join(f"{s:>6}" for s in seeds)
    lines = [head + f"{'mean +/- std':>16}{'boundary':>10}{'teacher':>9}{'target err':>12}"]
    for p, row in summary.items():
        errs = "".join(f"{100 * e:6.1f}" for e in row["errors"])
        tgt, tch = row["target_error"], row["teacher_error"]
        tgt = f"{sum(tgt) / len(tgt):12.4f}" if tgt[0] is not None else f"{'-':>12}"
        tch = f"{100 * sum(tch) / len(tch):9.2f}" if tch[0] is not None else f"{'-':>9}"
        bnd = sum(row["boundary"]) / len(row["boundary"])
        lines.append(f"({p}) {CAPTIONS[p]:<30}{errs}{100 * row['mean']:9.2f} +/- {100 * row['std']:4.2f}"
                     f"{bnd:+10.2f}{tch}{tgt}")
    return "\n".join(lines)


def plot_figure1(results, ax=None):
    """Draw Figure 1 (a)-(e) from five :class:`PanelResult` (a list in panel order or a dict by panel).

    Large dots: the labeled points; open circles: unlabeled points at the height of their consistency
    target (along the bottom where there is none); black: the student; grey dashed: the teacher;
    dotted vertical line: the best boundary. ``ax``: five matplotlib axes, or None for a new figure.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    results = [results[p] for p in PANELS] if isinstance(results, dict) else list(results)
    if len(results) != len(PANELS):
        raise ValueError(f"results has {len(results)} entries; pass one PanelResult per panel {PANELS}")
    if ax is None:
        fig, ax = plt.subplots(1, len(PANELS), figsize=(16, 3.4), sharey=True)
    else:
        fig = ax[0].figure
    g = torch.Generator().manual_seed(0)
    for a, r in zip(ax, results):
        d = r.data
        a.axvline(d.best_boundary, color="tab:green", ls=":", lw=1.5, label="best boundary")
        if r.panel == "b" and r.sigma > 0:  # a few of the noisy labeled samples (small dots)
            xs = d.x_labeled.repeat(12, 1) + r.sigma * torch.randn(24, 1, generator=g)
            a.scatter(xs[:, 0], d.y_labeled.repeat(12).float(), s=14, color="tab:blue", alpha=0.6,
                      edgecolors="white", lw=0.4, zorder=6, label="noisy labeled")
        if r.targets is not None:
            a.scatter(r.x_unlabeled, r.targets, s=22, facecolors="none", edgecolors="k", lw=0.8,
                      label="unlabeled (at target)")
        else:
            a.scatter(d.x_unlabeled[:, 0], torch.full((len(d.x_unlabeled),), -0.06), s=22,
                      facecolors="none", edgecolors="k", lw=0.8, label="unlabeled")
        if r.teacher_prob is not None:
            a.plot(r.grid, r.teacher_prob, color="0.55", ls="--", lw=2, label="teacher")
        a.plot(r.grid, r.student_prob, color="k", lw=2, label="student")
        a.scatter(d.x_labeled[:, 0], d.y_labeled.float(), s=110, color="tab:blue", zorder=5, label="labeled")
        a.set_title(f"({r.panel}) {CAPTIONS[r.panel]}\ntest error {100 * r.test_error:.1f}%", fontsize=10)
        a.set_xlim(float(r.grid[0]), float(r.grid[-1]))
        a.set_ylim(-0.12, 1.08)
        a.set_xlabel("x")
    ax[0].set_ylabel("P(class 1 | x)")
    handles = {}
    for a in ax:
        for h, lab in zip(*a.get_legend_handles_labels()):
            handles.setdefault(lab.replace(" (at target)", ""), h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def figure_png(fig, dpi=90):
    """The figure as PNG bytes (then closed), so a notebook shows it the same way under any backend."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
