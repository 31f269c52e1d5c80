"""Are the targets better? (paper Sec. 1-2, Figure 1: an averaged teacher should give more accurate
targets than the student, and better targets teach better.)

The trainer logs, at every history row, how often the consistency target and the student's own
training-mode prediction name the true class of the unlabeled images of the batches since the last
row (``train_target_accuracy``, ``train_student_accuracy``; the true labels never reach the loss).
Here they are read as *errors* (100 - accuracy), so that every verdict has the book's one form:
"A has lower error than B" only when the whole 95 % interval says so.
"""
import matplotlib.pyplot as plt

from mtlib.book import stats
from mtlib.book.plots import band, mean_series
from mtlib.book.tables import mean_between
from mtlib.results import MATCHING, result_status
from mtlib.runs import grid, run_grid

TARGET, STUDENT = "train_target_accuracy", "train_student_accuracy"


def has_targets(result):
    """True when a run logged the targets' accuracy (runs made before it was logged did not)."""
    return any(TARGET in row for row in result.history)


def logged_runs(configs, folders, train=False):
    """({name: [runs that logged the targets' accuracy]}, [missing run descriptions]) for
    {name: [RunConfig]}: each run is loaded from the first of ``folders`` whose results file matches
    and carries the logging. ``train=True`` (the smoke scale) trains what is missing into ``folders[0]``."""
    found, missing = {}, []
    for name, cfgs in configs.items():
        found[name] = []
        for cfg in cfgs:
            hit = next((r for f in folders for status, r in [result_status(f, cfg.to_dict())]
                        if status == MATCHING and has_targets(r)), None)
            if hit is None and train:
                hit = run_grid([cfg], folders[0])[0]
            if hit is None:
                missing.append(f"{name}, seed {cfg.seed}")
            else:
                found[name].append(hit)
    return found, missing


def rung_configs(base, seeds, rungs):
    """{rung name: [RunConfig per seed]} of the rungs that have a consistency target."""
    return {name: grid(base.replace(**changes), seed=list(seeds)) for name, changes in rungs
            if changes.get("method") != "supervised"}


def errors(result, column, window=None):
    """100 - a logged accuracy: at the last row, or averaged over the rows with window[0] <= step <= window[1]."""
    if window is None:
        return 100.0 - next(row[column] for row in reversed(result.history) if column in row)
    return 100.0 - mean_between(result, column, *window)


def target_vs_student(runs, window=None):
    """Within each rung with 2 or more runs: target error - student error on the same unlabeled
    images, paired by seed (negative: the target is more often right than the student it teaches)."""
    by = lambda rs, c: {r.config["seed"]: errors(r, c, window) for r in rs}
    return [stats.paired(by(rs, TARGET), by(rs, STUDENT), f"{name}: target", "its student")
            for name, rs in runs.items() if len(rs) >= 2]


def between(runs, a, b, window=None):
    """Target error of rung ``a`` - that of rung ``b``, paired by seed: whose targets are better."""
    return stats.compare_values(runs[a], runs[b], f"{a} target", f"{b} target", lambda r: errors(r, TARGET, window))


def step_comparisons(runs, window=None):
    """Each rung's target error against the rung below it (upper - lower), where the two share 2 or
    more seeds."""
    names = list(runs)
    seeds = lambda name: {r.config["seed"] for r in runs[name]}
    return [between(runs, upper, lower, window) for lower, upper in zip(names, names[1:])
            if len(seeds(upper) & seeds(lower)) >= 2]


def plot_targets(runs, title=None):
    """Left: each rung's target accuracy against the step (mean over seeds, +- 1 std band). Right:
    target - student accuracy (mean over seeds): above 0 where the target is ahead of its student."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, (name, rs) in enumerate(runs.items()):
        if not rs:
            continue
        color = f"C{k}"
        band(left, rs, TARGET, color=color, label=f"{name} (n={len(rs)})")
        steps, target = mean_series(rs, TARGET)
        _, student = mean_series(rs, STUDENT)
        right.plot(steps, [t - s for t, s in zip(target, student)], color=color, label=name)
    left.set(xlabel="step", ylabel="target accuracy on unlabeled images (%)")
    right.axhline(0, color="0.5", lw=0.8)
    right.set(xlabel="step", ylabel="target − student accuracy (points)")
    left.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
