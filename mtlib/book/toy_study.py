"""What the Figure 1 toy shows over seeds: summaries of the panels of :mod:`mtlib.book.toy`, their
paired comparisons and the checks of the chapter's claims (book/confirmation_bias.ipynb).

Seeds are paired: a seed gives every panel the same data, student initialisation and noise generator,
so two panels are compared by their per-seed differences, and one is "lower" only when the 95 % t
interval of the mean difference excludes 0 (the book's rule, :mod:`mtlib.book.stats`). The claims
checked are the chapter's reading of Fig. 1 (Sec. 1): a verdict for each pair of :data:`COMPARISONS`,
and the per-seed statements of :data:`SEED_CLAIMS`.
"""
from dataclasses import dataclass

import torch

from mtlib.book import stats
from mtlib.book.toy import CAPTIONS
from mtlib.checks import check_choice

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

    @property
    def verdict(self):
        """"(a) lower" or "(b) lower" when the 95 % interval excludes 0 (the book's rule), else "not resolved"."""
        low, high = self.interval or (-float("inf"), float("inf"))
        return f"({self.a}) lower" if high < 0 else f"({self.b}) lower" if low > 0 else "not resolved"

    def __str__(self):
        scale, unit = (100, " points") if self.name.endswith("test_error") else (1, "")
        digits = 2 if scale == 100 or self.name == "boundary" else 4   # target errors are small numbers
        per = " ".join(f"{scale * d:+.{digits}f}" for d in self.diffs)
        what = f"{self.name}" if self.name == self.name_b else f"{self.name} - {self.name_b}"
        ci = (f"95% interval [{scale * self.interval[0]:+.{digits}f}, {scale * self.interval[1]:+.{digits}f}]"
              if self.interval else "no interval (one seed)")
        return (f"({self.a}) - ({self.b}) {what}: mean {scale * self.mean:+.{digits}f}{unit}, {ci}: {self.verdict}; "
                f"({self.a}) lower on {self.n_lower} of {len(self.seeds)} seeds; per seed: {per}")


# The chapter's paired comparisons, one change at a time: label -> (panel a, panel b, metric[, metric of b])
COMPARISONS = {
    "frozen: student - its teacher, test": ("c", "c", "test_error", "teacher_test_error"),
    "frozen: averaged - clean, test": ("d", "c", "test_error"),
    "frozen: averaged - clean, target": ("d", "c", "target_error"),
    "frozen: clean - averaged, boundary": ("c", "d", "boundary"),
    "self-teacher - frozen, target": ("s", "c", "target_error"),
    "self-teacher - frozen, test": ("s", "c", "test_error"),
    "Π (noisy) - self-teacher, target": ("p", "s", "target_error"),
    "Π (noisy) - self-teacher, test": ("p", "s", "test_error"),
    "EMA - self-teacher, target": ("e", "s", "target_error"),
    "EMA - self-teacher, test": ("e", "s", "test_error"),
    "EMA - Π, target": ("e", "p", "target_error"),
    "EMA - Π, test": ("e", "p", "test_error"),
    "EMA - frozen averaged, test": ("e", "d", "test_error"),
    "frozen - Π, boundary": ("c", "p", "boundary"),
    "too-large weight - Π, labeled fit": ("w", "p", "labeled_fit"),
}


def compare_all(results, pairs=None):
    """``{label: compare(results, *spec)}`` for every pair of :data:`COMPARISONS` (or ``pairs``)."""
    return {k: compare(results, *v) for k, v in (COMPARISONS if pairs is None else pairs).items()}


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


# The per-seed statements of the chapter's text, each a test of one seed's {panel: PanelResult} and the best
# boundary (ToyData.best_boundary); "P(true class) at labeled" is labeled_fit, "|P - 1/2|" max_margin.
SEED_CLAIMS = {
    "(a), (b): boundary over 0.3 left of the best": lambda row, best: all(row[p].boundary < best - 0.3 for p in "ab"),
    "(c): boundary nearer its teacher's than the best":
        lambda row, best: abs(row["c"].boundary - row["c"].teacher_boundary) < abs(row["c"].boundary - best),
    "(c): boundary left of (p)'s": lambda row, best: row["c"].boundary < row["p"].boundary,
    "(w): P(true class) at labeled < 0.6 < (p)'s": lambda row, best: row["w"].labeled_fit < 0.6 < row["p"].labeled_fit,
    "(w): nearly flat, max |P - 1/2| < 0.1": lambda row, best: row["w"].max_margin < 0.1,
}


def seed_counts(results, best, claims=SEED_CLAIMS):
    """``{statement: on how many seeds of fit_all's output it holds}`` for each of ``claims``."""
    return {name: sum(bool(holds(row, best)) for row in results.values()) for name, holds in claims.items()}


def _known(param, names, known):
    unknown = set(names) - set(known)
    if unknown:
        raise ValueError(f"{param}= names {sorted(unknown)}, which are not among {sorted(known)}")


def check_claims(comparisons, expected, counts, n_seeds, most_seeds=(), mean_above=None):
    """Raise AssertionError, naming every claim that fails, unless all of these hold:

    - each comparison of ``comparisons`` (:func:`compare_all`) has the verdict ``expected[label]`` by the
      interval rule ("(x) lower" or "not resolved"); ``expected`` names exactly the comparisons;
    - each statement of ``counts`` (:func:`seed_counts`) holds on all ``n_seeds`` seeds, those named in
      ``most_seeds`` on more than half of them;
    - ``comparisons[label].mean > bound`` for each ``label: bound`` of ``mean_above``.
    """
    mean_above = {} if mean_above is None else mean_above
    _known("expected", expected, comparisons)
    if set(comparisons) - set(expected):
        raise ValueError(f"expected= has no verdict for {sorted(set(comparisons) - set(expected))}")
    _known("most_seeds", most_seeds, counts)
    _known("mean_above", mean_above, comparisons)
    fails = [f"{k}: the text says {v!r}, the 95 % interval says {comparisons[k].verdict!r} ({comparisons[k]})"
             for k, v in expected.items() if comparisons[k].verdict != v]
    for k, got in counts.items():
        most = k in most_seeds
        if not (got > n_seeds / 2 if most else got == n_seeds):
            need = "more than half of the" if most else "every one of the"
            fails.append(f"{k}: the text says it holds on {need} {n_seeds} seeds, it holds on {got}")
    fails += [f"{k}: the text needs a mean above {bound:+g}, it is {comparisons[k].mean:+.4f}"
              for k, bound in mean_above.items() if not comparisons[k].mean > bound]
    if fails:
        raise AssertionError("claims of the chapter that do not hold:\n" + "\n".join(fails))
