"""The Mean Teacher chapter's comparison sliders: one knob swept, each value against supervised-only.

For every value of a knob (the EMA decay alpha of Fig. 4c, the consistency weight of Fig. 4d) the
Mean Teacher runs are ``grid(base, **{knob: [value]}, seed=seeds)``, the very runs of the Figure 4
points (``mtlib.book.ablations.figure4_points``), and the baseline is ``base.replace(method=
"supervised")`` at the same seeds (a cell of the tables' runs). :func:`plot_gap_per_value` draws one
figure per value for :func:`mtlib.book.widgets.precomputed_slider`: the mean curve over seeds with a
+- 1 std band for both, on shared axes, so sliding shows the gap move. :func:`plot_final_vs_value`
is the static Fig. 4-style view: final error against the value, supervised-only as a horizontal band.
"""
import matplotlib.pyplot as plt
import pandas as pd

from mtlib.book.plots import mean_series
from mtlib.book.stats import mean_std
from mtlib.book.tables import fmt
from mtlib.book.widgets import precomputed_slider
from mtlib.results import run_key
from mtlib.runs import grid, run_grid

MT_COLORS = {"ema": "tab:blue", "student": "tab:orange"}
BASELINE_COLOR = "0.35"
BASELINE_LABEL = "supervised-only, EMA"


def sweep_configs(base, knob, values, seeds):
    """(Mean Teacher configs per value, supervised-only configs): each list in the order of ``seeds``."""
    per_value = [grid(base, **{knob: [v]}, seed=list(seeds)) for v in values]
    return per_value, grid(base.replace(method="supervised"), seed=list(seeds))


def sweep_runs(base, knob, values, seeds, results_dir, retrain=False):
    """(runs per value, supervised-only runs) of :func:`sweep_configs`, each run loaded or trained once."""
    per_value, baseline = sweep_configs(base, knob, values, seeds)
    distinct = {run_key(c.to_dict()): c for cs in per_value + [baseline] for c in cs}
    done = dict(zip(distinct, run_grid(list(distinct.values()), results_dir, retrain=retrain)))
    return ([[done[run_key(c.to_dict())] for c in cs] for cs in per_value],
            [done[run_key(c.to_dict())] for c in baseline])


def sweep_frame(values, runs_per_value, baseline, name="α"):
    """One row per value: final test error (%) of Mean Teacher's teacher (EMA) and student, mean ± std
    over seeds, and the mean gap to supervised-only (its EMA model); negative: Mean Teacher is better."""
    sup, _ = mean_std(r.final["ema_test_error"] for r in baseline)
    rows = []
    for value, runs in zip(values, runs_per_value):
        ema = mean_std(r.final["ema_test_error"] for r in runs)
        rows.append({name: value, "Mean Teacher, EMA": fmt(*ema),
                     "Mean Teacher, student": fmt(*mean_std(r.final["student_test_error"] for r in runs)),
                     "gap to supervised-only": None if ema[0] is None or sup is None else round(ema[0] - sup, 2)})
    frame = pd.DataFrame(rows).set_index(name)
    frame.attrs["supervised-only, EMA"] = fmt(*mean_std(r.final["ema_test_error"] for r in baseline))
    return frame


def _band(ax, runs, column, color, label, lw=1.8, ls="-"):
    """Mean of ``column`` over ``runs`` as a line, +- 1 std across them as a band; returns the line."""
    steps, mean, std = mean_series(runs, column, with_std=True)
    line, = ax.plot(steps, mean, ls, color=color, lw=lw, label=label)
    ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                    color=color, alpha=0.18, lw=0)
    return line


def plot_gap_per_value(values, runs_per_value, baseline, name="α", scale="", zoom_from=None, figsize=(5.6, 3.6)):
    """One figure per value: Mean Teacher's teacher (EMA) and student test-error curves, mean over its
    runs (seeds) with a +- 1 std band, over the supervised-only EMA curve and band of ``baseline``; the
    title gives the final means and the gap. Every figure has the same axes limits; with ``zoom_from``
    (a step, e.g. the end of the ramp-up) the y-axis fits what the lines reach from that step on, where
    the gaps of a few points would otherwise be flattened by the errors of the first evaluations."""
    if len(values) != len(runs_per_value) or not values:
        raise ValueError(f"values ({len(values)}) and runs_per_value ({len(runs_per_value)}) must be "
                         "non-empty and equal in length")
    if not baseline or not all(runs_per_value):
        raise ValueError("every value and the baseline need at least one run")
    sup, _ = mean_std(r.final["ema_test_error"] for r in baseline)
    figures, low, high = [], float("inf"), float("-inf")
    for value, runs in zip(values, runs_per_value):
        fig, ax = plt.subplots(figsize=figsize)
        _band(ax, baseline, "ema_test_error", BASELINE_COLOR, BASELINE_LABEL, lw=2.2, ls="--")
        _band(ax, runs, "student_test_error", MT_COLORS["student"], "Mean Teacher, student", lw=1.2)
        _band(ax, runs, "ema_test_error", MT_COLORS["ema"], "Mean Teacher, teacher (EMA)")
        mt, _ = mean_std(r.final["ema_test_error"] for r in runs)
        ax.set_title(f"{name} = {value}: final EMA test error, Mean Teacher {mt:.2f}% vs supervised-only "
                     f"{sup:.2f}% (gap {mt - sup:+.2f})\nmean ± 1 std over {len(runs)} seed(s); {scale}", fontsize=8)
        ax.set(xlabel="training step", ylabel="test error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        if zoom_from is None:
            y0, y1 = ax.get_ylim()
        else:
            late = [y for line in ax.lines for x, y in zip(line.get_xdata(), line.get_ydata()) if x >= zoom_from]
            y0, y1 = (min(late) - 2, max(late) + 2) if late else ax.get_ylim()
        low, high = min(low, y0), max(high, y1)
        figures.append(fig)
    for fig in figures:
        fig.axes[0].set_ylim(low, high)
        if zoom_from is not None:
            fig.axes[0].set_ylabel(f"test error (%), zoomed to steps ≥ {zoom_from}", fontsize=8)
        fig.tight_layout()
    return figures


def plot_final_vs_value(values, runs_per_value, baseline, ax=None, xlabel="", marked=None,
                        metric="ema_test_error", title=None):
    """Fig. 4 style: final ``metric`` against the value (one tick per value), each seed a dot, the mean
    with a +- 1 std error bar; supervised-only (same seeds) as a horizontal line with a +- 1 std band."""
    if len(values) != len(runs_per_value) or not values:
        raise ValueError(f"values ({len(values)}) and runs_per_value ({len(runs_per_value)}) must be "
                         "non-empty and equal in length")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.2))
    xs = list(range(len(values)))
    sup, sup_std = mean_std(r.final[metric] for r in baseline)
    if sup is not None:
        ax.axhspan(sup - (sup_std or 0), sup + (sup_std or 0), color=BASELINE_COLOR, alpha=0.18, lw=0)
        ax.axhline(sup, color=BASELINE_COLOR, ls="--", lw=1.5, label=f"supervised-only ({len(baseline)} seeds)")
    stats = [mean_std(r.final[metric] for r in runs) for runs in runs_per_value]
    for x, runs in zip(xs, runs_per_value):
        ax.plot([x] * len(runs), [r.final[metric] for r in runs], "o", color=MT_COLORS["ema"], alpha=0.4, ms=4)
    ax.errorbar(xs, [m for m, _ in stats], yerr=[s or 0 for _, s in stats], fmt="-s", color=MT_COLORS["ema"],
                capsize=3, label="Mean Teacher, mean ± std")
    ax.set_xticks(xs)
    ax.set_xticklabels([str(v) for v in values])
    if marked in list(values):
        ax.get_xticklabels()[list(values).index(marked)].set_fontweight("bold")
    ax.set(xlabel=xlabel, ylabel=("EMA " if metric.startswith("ema") else "") + "test error (%)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return ax


def sweep_slider(base, knob, values, seeds, results_dir, name, description, fixed, retrain=False, zoom_from=None):
    """A chapter's comparing slider in one call: load the sweep, print its table, return
    (runs per value, supervised-only runs, the offline slider over :func:`plot_gap_per_value`)."""
    runs, baseline = sweep_runs(base, knob, values, seeds, results_dir, retrain=retrain)
    table = sweep_frame(values, runs, baseline, name=name)
    print(f"Final test error (%), mean ± std over seeds; {fixed}, seeds {list(seeds)}.")
    print(table.to_string())
    print("supervised-only, EMA:", table.attrs["supervised-only, EMA"])
    figs = plot_gap_per_value(values, runs, baseline, name=name, scale=f"{fixed}, seeds {list(seeds)}",
                              zoom_from=zoom_from)
    return runs, baseline, precomputed_slider(values, figs, description=description, value=getattr(base, knob))
