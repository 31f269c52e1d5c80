"""Statistics over seeds: how sure the book is about a difference between two methods.

Seeds are paired: seed s gives every method the same label split, subset and initialisation, so a
comparison uses the per-seed differences d_s = error_A(s) - error_B(s) and a 95 % Student t interval
for their mean (scipy.stats). A chapter asserts "A has lower error than B" only when the whole
interval lies below 0; otherwise it says that this scale does not resolve the difference.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEVEL = 0.95


@dataclass(frozen=True)
class Paired:
    """Mean paired difference ``a - b`` over ``n`` seeds with its ``level`` t interval [low, high]."""

    a: str
    b: str
    n: int
    mean: float
    low: float
    high: float
    level: float = LEVEL

    @property
    def a_lower(self):
        """The interval excludes 0 on the side where A's error is lower."""
        return self.high < 0

    @property
    def b_lower(self):
        return self.low > 0

    @property
    def resolved(self):
        return self.a_lower or self.b_lower

    def verdict(self, unit="points"):
        """One sentence: the difference, its interval, and what it allows us to say."""
        ci = f"{self.mean:+.2f} {unit}, {self.level * 100:g}% interval [{self.low:+.2f}, {self.high:+.2f}], {self.n} paired seeds"
        if self.a_lower:
            return f"{self.a} has lower error than {self.b}: {self.a} - {self.b} = {ci}."
        if self.b_lower:
            return f"{self.b} has lower error than {self.a}: {self.a} - {self.b} = {ci}."
        return f"not resolved at this scale: {self.a} - {self.b} = {ci} (the interval includes 0)."


def mean_std(values):
    """(mean, sample std) of ``values``; std is None for one value, both None for none."""
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        return None, None
    return float(values.mean()), (float(values.std(ddof=1)) if values.size > 1 else None)


def t_interval(values, level=LEVEL):
    """(mean, low, high): the ``level`` Student t interval for the mean of ``values`` (n >= 2)."""
    values = np.asarray(list(values), dtype=float)
    if values.size < 2:
        raise ValueError(f"a t interval needs at least 2 values; got {values.size}")
    from scipy import stats as sps   # imported on first use: it costs every CLI process ~1.5 s
    mean, sem = values.mean(), sps.sem(values)
    if sem == 0:
        return float(mean), float(mean), float(mean)
    low, high = sps.t.interval(level, values.size - 1, loc=mean, scale=sem)
    return float(mean), float(low), float(high)


def paired(a_by_seed, b_by_seed, a="A", b="B", level=LEVEL):
    """Paired comparison of two {seed: error} maps over their common seeds. With one seed there is
    no interval (it is unbounded), so nothing can be resolved."""
    seeds = sorted(set(a_by_seed) & set(b_by_seed))
    diffs = [a_by_seed[s] - b_by_seed[s] for s in seeds]
    if len(diffs) == 1:
        return Paired(a=a, b=b, n=1, mean=diffs[0], low=-np.inf, high=np.inf, level=level)
    mean, low, high = t_interval(diffs, level)
    return Paired(a=a, b=b, n=len(seeds), mean=mean, low=low, high=high, level=level)


def by_seed(results, metric="ema_test_error"):
    """{seed: final ``metric``} of a list of RunResults (None: the error of the model each run's method
    reports, ``mtlib.training.methods.reported_metric``: the EMA model; Temporal Ensembling's raw network)."""
    if metric is None:
        from mtlib.training.methods import reported_metric   # on first use: it imports torch
        return {r.config["seed"]: r.final[reported_metric(r.config["method"])] for r in results}
    return {r.config["seed"]: r.final[metric] for r in results}


def run_name(result):
    """How an error message names a run: its results file, else method, labels, seed and key."""
    from mtlib.results import run_key
    c = result.config
    return Path(result.provenance.get("loaded_from", "")).name or \
        f"{c['method']} {c['n_labels']} labels seed {c['seed']} ({run_key(c)})"


def check_one_precision(runs_a, runs_b):
    """Raise ValueError naming both runs when two runs paired by seed were computed in different
    precisions (provenance "precision": fp32 or bf16): a paired difference then mixes the methods'
    difference with the precisions' (the appendix measures bf16 - fp32)."""
    b_by_seed = {r.config["seed"]: r for r in runs_b}
    for ra in runs_a:
        rb = b_by_seed.get(ra.config["seed"])
        if rb is None:
            continue
        pa, pb = ((getattr(r, "provenance", None) or {}).get("precision") for r in (ra, rb))
        if pa and pb and pa != pb:      # a run without a recorded precision (a test's stand-in) is not refused
            raise ValueError(f"refusing to pair {run_name(ra)} ({pa}) with {run_name(rb)} ({pb}): "
                             "a paired comparison never crosses two precisions")


def compare_values(runs_a, runs_b, a, b, value, level=LEVEL):
    """:func:`paired` of ``value(run)`` over two lists of RunResults (one per seed), paired by seed; the
    one place where runs are paired, so it refuses a pair of two precisions (:func:`check_one_precision`)."""
    check_one_precision(runs_a, runs_b)
    per_seed = lambda runs: {r.config["seed"]: value(r) for r in runs}
    return paired(per_seed(runs_a), per_seed(runs_b), a, b, level)


def compare(runs_a, runs_b, a, b, metric="ema_test_error", level=LEVEL):
    """:func:`compare_values` of the final ``metric`` (None: each run's reported model, :func:`by_seed`)."""
    value = lambda r: by_seed([r], metric)[r.config["seed"]]
    return compare_values(runs_a, runs_b, a, b, value, level)


def check_claim(comparison, expect, check=True):
    """Print the comparison's verdict; with ``check``, raise AssertionError unless the interval rule
    gives ``expect`` ("a_lower", "b_lower" or "unresolved"): the chapter's text states exactly that."""
    print(comparison.verdict())
    got = "a_lower" if comparison.a_lower else "b_lower" if comparison.b_lower else "unresolved"
    if check and got != expect:
        raise AssertionError(f"the text says {expect!r} but the interval says {got!r}: {comparison.verdict()}")
    return got


def check_claims(comparisons, expected, check=True):
    """:func:`check_claim` for each comparison with its expected verdict (as many of each)."""
    return [check_claim(c, expect=e, check=check) for c, e in zip(comparisons, expected, strict=True)]


def comparisons_by(results, pairs, names, by="n_labels", metric="ema_test_error", min_seeds=None):
    """{value of ``by``: [Paired a - b for each (a, b) method pair]}, over the seeds both have.
    ``min_seeds``: leave out a pair with fewer common seeds, and a value with no pair left (results
    still being computed); None: every pair (a pair with no common seed raises)."""
    def seeds(method, value):
        return {r.config["seed"] for r in select(results, method=method, **{by: value})}

    out = {}
    for value in sorted({r.config[by] for r in results}):
        kept = [(a, b) for a, b in pairs if min_seeds is None or len(seeds(a, value) & seeds(b, value)) >= min_seeds]
        if kept:
            out[value] = [compare(select(results, method=a, **{by: value}), select(results, method=b, **{by: value}),
                                  names[a], names[b], metric) for a, b in kept]
    return out


def comparison_frame(results, pairs, names, by="n_labels", metric="ema_test_error"):
    """One row per value of ``by`` and (a, b) method pair: paired mean difference a - b over the
    seeds both have, its interval and the verdict of the interval rule."""
    import pandas as pd

    return pd.concat([frame(comparisons).assign(**{by: value}).set_index(by, append=True).swaplevel()
                      for value, comparisons in comparisons_by(results, pairs, names, by, metric).items()])


def frame(comparisons):
    """A DataFrame of Paired comparisons: difference, mean, interval, seeds, verdict. Sets pandas'
    ``display.max_colwidth`` to None: a difference's name is long, and pandas cuts cells at 50 characters."""
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    if not comparisons:
        return pd.DataFrame(columns=["mean (points)", "interval", "seeds", "verdict"]).rename_axis("difference")
    return pd.DataFrame([{"difference": f"{c.a} − {c.b}", "mean (points)": round(c.mean, 2),
                          f"{c.level * 100:g}% interval": f"[{c.low:+.2f}, {c.high:+.2f}]", "seeds": c.n,
                          "verdict": f"{c.a} lower" if c.a_lower else f"{c.b} lower" if c.b_lower
                          else "not resolved"} for c in comparisons]).set_index("difference")


def select(results, **where):
    """The results whose config matches every ``where`` item."""
    return [r for r in results if all(r.config.get(k) == v for k, v in where.items())]


def p_value(comparison):
    """Two-sided p of the paired t test behind ``comparison`` (recovered from its interval: the
    standard error is the half-width over the t quantile); 1.0 where there is no interval."""
    from scipy import stats as sps
    c = comparison
    if c.n < 2 or not np.isfinite(c.low) or not np.isfinite(c.high):
        return 1.0
    sem = (c.high - c.low) / 2 / sps.t.ppf(0.5 + c.level / 2, c.n - 1)
    if sem == 0:
        return 0.0 if c.mean != 0 else 1.0
    return float(2 * sps.t.sf(abs(c.mean) / sem, c.n - 1))


def holm(comparisons, alpha=1 - LEVEL):
    """Holm's step-down rule over a family of comparisons: [(adjusted p, resolved)] in their order.
    A difference of the family is resolved only when its adjusted p is below ``alpha``; with one
    comparison this is the interval rule itself."""
    ps = [p_value(c) for c in comparisons]
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adjusted, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return [(p, p < alpha) for p in adjusted]
