"""What makes Mean Teacher win: a ladder of targets, one change per rung, on paired seeds.

supervised-only -> Pi model (the target is a second noisy pass of the student, with the gradient
through it) -> the same target detached (Mean Teacher at EMA decay 0: the teacher's weights are
the student's, up to its own batch-norm statistics) -> Mean Teacher at the CPU scale's decay 0.99
-> the paper's schedule (0.99 during the ramp-up, then 0.999; Sec. 3.4). Every rung keeps the
same consistency weight, so only the target changes. Two questions, kept apart:
does a better target teach better (paired differences of the *student's* final test error between
rungs) and does averaging the weights for evaluation help (the EMA-minus-student gap within each
rung's runs). Does averaging need time (the paper's runs are ~50x longer)? The two EMA rungs
again at the long CPU scale (``mtlib.scales.LONG``: 3x the steps, ramps scaled): the paired difference at
each length, the change of that difference from one length to the other, seed by seed, and
each rung's own change with length.
"""
import matplotlib.pyplot as plt
import pandas as pd

from mtlib.book import stats
from mtlib.book.plots import mean_series
from mtlib.book.tables import fmt, mean_between, mean_std
from mtlib.results import MATCHING, result_status
from mtlib.runs import grid, run_grid
from mtlib.scales import CPU_GRIDS, LONG


EMA_RUNGS = {"decay 0": "detached target (decay 0)", "paper schedule": "Mean Teacher, paper schedule"}


def rungs(ladder_ema=None):
    """(name, changes to the base config) of each rung, bottom to top."""
    ema = dict(CPU_GRIDS["ladder_ema"] if ladder_ema is None else ladder_ema)
    return [("supervised-only", dict(method="supervised")),
            ("Π model", dict(method="pi")),
            (EMA_RUNGS["decay 0"], dict(method="mean_teacher", **ema["decay 0"])),
            ("Mean Teacher, decay 0.99", dict(method="mean_teacher", ema_decay=0.99)),
            (EMA_RUNGS["paper schedule"], dict(method="mean_teacher", **ema["paper schedule"]))]


def ladder_runs(base, seeds, results_dir, ladder=None):
    """{rung name: [RunResult per seed]} through run_or_load (committed results load)."""
    ladder = rungs() if ladder is None else ladder
    return {name: run_grid(grid(base.replace(**changes), seed=list(seeds)), results_dir) for name, changes in ladder}


def step_comparisons(runs, metric="student_test_error"):
    """Each rung against the rung below it: paired differences of ``metric`` (upper - lower)."""
    names = list(runs)
    return [stats.compare(runs[upper], runs[lower], upper, lower, metric) for lower, upper in zip(names, names[1:])]


def against_bottom(runs, metric="student_test_error"):
    """Each rung above the first against the first (supervised-only): paired ``metric`` differences."""
    names = list(runs)
    return [stats.compare(runs[name], runs[names[0]], name, names[0], metric) for name in names[1:]]


def rung_table(runs):
    """Rows: rung (or (length, rung)); columns: the student's and the EMA model's final test error (%),
    mean ± std over seeds."""
    return pd.DataFrame({name if isinstance(name, str) else " | ".join(name):
                         {f"{model} test error": fmt(*mean_std(r.final[f"{key}_test_error"] for r in rs))
                          for model, key in (("student", "student"), ("EMA", "ema"))}
                         for name, rs in runs.items()}).T


def averaging_gaps(runs, window=None):
    """Within each rung: EMA model - student, paired over the rung's own seeds: the final test error,
    or with ``window=(start, end)`` its mean over the evaluations in those steps (Fig. 3's reading)."""
    def errors(rs, model):
        if window is None:
            return stats.by_seed(rs, f"{model}_test_error")
        return {r.config["seed"]: mean_between(r, f"{model}_test_error", *window) for r in rs}

    return [stats.paired(errors(rs, "ema"), errors(rs, "student"), f"{name}: EMA", "student")
            for name, rs in runs.items()]


def length_runs(base, seeds, results_dir, longer=None, ladder_ema=None, train=True):
    """{(length, rung name): runs} of the two EMA rungs (decay 0, the paper's schedule) at the base's
    steps and with ``longer`` applied (default ``mtlib.scales.LONG``, the long CPU scale: 3x the steps,
    ramps scaled). ``train=False``: load only; None when any of these runs has no results file."""
    longer = LONG if longer is None else longer
    ema = CPU_GRIDS["ladder_ema"] if ladder_ema is None else ladder_ema
    lengths = {f"{base.steps} steps": {}, f"{longer['steps']} steps": longer}
    configs = {(length, EMA_RUNGS[key]): grid(base.replace(method="mean_teacher", **changes, **extra), seed=list(seeds))
               for length, extra in lengths.items() for key, changes in ema}
    if not train and any(result_status(results_dir, c.to_dict())[0] != MATCHING for cs in configs.values() for c in cs):
        return None
    return {name: run_grid(cs, results_dir) for name, cs in configs.items()}


def _lengths_and_names(runs):
    """The lengths and the rung names of {(length, rung name): runs}, in their order."""
    return list(dict.fromkeys(length for length, _ in runs)), list(dict.fromkeys(name for _, name in runs))


def length_trend(runs, metric="ema_test_error", level=stats.LEVEL):
    """Upper rung - lower rung at each length, then (longer - shorter) of that difference per seed:
    a negative trend means the gap grows in the upper rung's favour with more steps."""
    lengths, names = _lengths_and_names(runs)
    lower, upper = names[0], names[-1]
    def per_seed(length):
        up, low = stats.by_seed(runs[length, upper], metric), stats.by_seed(runs[length, lower], metric)
        return {s: up[s] - low[s] for s in low if s in up}

    for length in lengths[1:]:      # the trend pairs runs of both lengths
        stats.check_one_precision(runs[length, upper] + runs[length, lower],
                                  runs[lengths[0], upper] + runs[lengths[0], lower])
    diffs = {length: per_seed(length) for length in lengths}
    at_each = [stats.compare(runs[length, upper], runs[length, lower], f"{upper} ({length})", f"{lower} ({length})",
                             metric, level) for length in lengths]
    trend = stats.paired(diffs[lengths[-1]], diffs[lengths[0]], f"difference at {lengths[-1]}",
                         f"difference at {lengths[0]}", level)
    return at_each, trend


def length_changes(runs, metric="ema_test_error"):
    """Each rung at the longer length minus the same rung at the shorter one, paired by seed: which
    rung moves when training is longer."""
    lengths, names = _lengths_and_names(runs)
    return [stats.compare(runs[lengths[-1], name], runs[lengths[0], name], f"{name} ({lengths[-1]})",
                          f"{name} ({lengths[0]})", metric) for name in names]


def plot_lengths(runs, metric="test_error", title=None):
    """One panel per length: mean test error over seeds of each rung's EMA model (solid) and student
    (dashed) against the step."""
    lengths, _ = _lengths_and_names(runs)
    fig, axes = plt.subplots(1, len(lengths), figsize=(4.6 * len(lengths), 3.4), sharey=True, squeeze=False)
    for ax, length in zip(axes[0], lengths):
        for color, name in zip(("C0", "C1"), [n for at, n in runs if at == length]):
            for model, style in (("ema", "-"), ("student", "--")):
                steps, values = mean_series(runs[length, name], f"{model}_{metric}")
                ax.plot(steps, values, style, color=color, label=f"{name}, {'EMA' if model == 'ema' else model}")
        ax.set(title=length, xlabel="step", ylabel="test error (%)")
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
