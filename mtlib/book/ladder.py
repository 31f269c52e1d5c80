"""What makes Mean Teacher win: a ladder of targets, one change per rung, on paired seeds.

supervised-only -> Pi model (the target is a second noisy pass of the student, with the gradient
through it) -> the same target detached (Mean Teacher at EMA decay 0: the teacher's weights are
the student's, up to its own batch-norm statistics) -> Mean Teacher at the CPU scale's decay 0.99
-> the paper's schedule (0.99 during the ramp-up, then 0.999; Sec. 3.4). Every rung keeps the
same consistency weight, so only the target changes. Two questions, kept apart:
does a better target teach better (paired differences of the *student's* final test error between
rungs) and does averaging the weights for evaluation help (the EMA-minus-student gap within each
rung's runs).
"""
from mtlib.book import stats
from mtlib.runs import grid, run_grid
from mtlib.scales import CPU_GRIDS


def rungs(ladder_ema=None):
    """(name, changes to the base config) of each rung, bottom to top."""
    ema = dict(CPU_GRIDS["ladder_ema"] if ladder_ema is None else ladder_ema)
    return [("supervised-only", dict(method="supervised")),
            ("Π model", dict(method="pi")),
            ("detached target (decay 0)", dict(method="mean_teacher", **ema["decay 0"])),
            ("Mean Teacher, decay 0.99", dict(method="mean_teacher", ema_decay=0.99)),
            ("Mean Teacher, paper schedule", dict(method="mean_teacher", **ema["paper schedule"]))]


def ladder_runs(base, seeds, results_dir, ladder=None):
    """{rung name: [RunResult per seed]} through run_or_load (committed results load)."""
    ladder = rungs() if ladder is None else ladder
    return {name: run_grid(grid(base.replace(**changes), seed=list(seeds)), results_dir) for name, changes in ladder}


def step_comparisons(runs, metric="student_test_error"):
    """Each rung against the rung below it: paired differences of ``metric`` (upper - lower)."""
    names = list(runs)
    return [stats.compare(runs[upper], runs[lower], upper, lower, metric) for lower, upper in zip(names, names[1:])]


def averaging_gaps(runs):
    """Within each rung: EMA model - student, paired over the rung's own seeds (final test error)."""
    return [stats.paired(stats.by_seed(rs, "ema_test_error"), stats.by_seed(rs, "student_test_error"),
                         f"{name}: EMA", "student") for name, rs in runs.items()]
