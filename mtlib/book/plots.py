"""Plot helpers for the chapters (d2l-style: a plot is one call, not 20 lines per cell)."""
import statistics

import matplotlib.pyplot as plt

from mtlib.book.ensembling import logged_windows, refresh_steps, steps_since_refresh
from mtlib.book.style import COLORS as FIG3_COLORS, LINESTYLES, NAMES as METHOD_LABELS  # noqa: F401
from mtlib.training.schedules import EMA_SCHEDULES, ema_decay

COLORS = {"student": "tab:orange", "ema": "tab:blue"}


def _ax(ax, figsize=(5, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _finish(fig, axes, title=None, xlabel=None, legend_size=8):
    """Label, grid and legend each of ``axes``, title the figure, lay it out; returns ``fig``."""
    for ax in axes:
        if xlabel:
            ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=legend_size)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_curves(results, metric="test_error", models=("student", "ema"), labels=None, ax=None,
                styles=("-", "--", ":", "-.")):
    """Student and EMA curves of ``metric`` over training steps, one line style per result (Fig. 3)."""
    ax = _ax(ax)
    for i, r in enumerate(results):
        name = labels[i] if labels else r.config["method"]
        for model in models:
            steps, values = r.series(f"{model}_{metric}")
            ax.plot(steps, values, styles[i % len(styles)], color=COLORS.get(model),
                    label=f"{name}, {'EMA' if model == 'ema' else model}")
    ax.set_xlabel("training step")
    ax.set_ylabel(metric.replace("_", " ") + (" (%)" if metric.endswith("error") else ""))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_sweep(values, results_per_value, metric="ema_test_error", ax=None, xlabel="", logx=False,
               marked=None, title=None, color="tab:blue", label=None):
    """Fig. 4 style: each run as a dot, the mean over seeds as a line; ``marked`` bolds the default.

    ``color`` and ``label`` (legend entry of the mean line) let several series share one axes."""
    ax = _ax(ax, figsize=(3.6, 3))
    xs = list(range(len(values))) if not logx else values
    means = []
    for x, runs in zip(xs, results_per_value):
        ys = [r.final[metric] for r in runs]
        ax.plot([x] * len(ys), ys, "o", color=color, alpha=0.45, ms=4)
        means.append(statistics.fmean(ys) if ys else float("nan"))
    ax.plot(xs, means, "-", color=color, label=label)
    if not logx:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(v) for v in values], rotation=45 if len(values) > 5 else 0)
    else:
        ax.set_xscale("symlog", linthresh=min(v for v in values if v > 0))
    if marked is not None and marked in values:
        ax.axvline(xs[values.index(marked)], color="gray", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test error (%)" if "test" in metric else "error (%)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return ax


def plot_ensemble_trace(trace, image=0, cls=0, ax=None, title=None):
    """Temporal Ensembling's raw Z vs bias-corrected target, per epoch (mtlib.book.ensembling.trace_ensemble)."""
    ax = _ax(ax, figsize=(4.2, 3))
    epochs = list(range(1, len(trace["raw"]) + 1))
    pick = (slice(None), image, cls)
    ax.plot(epochs, trace["prediction"][pick], "o", color="gray", ms=4, label="this epoch's prediction z")
    ax.plot(epochs, trace["average"][pick], "-", color="black", lw=3, alpha=0.25, label="weighted average of z so far")
    ax.plot(epochs, trace["raw"][pick], "s-", color="tab:red", ms=4, label="raw ensemble Z")
    ax.plot(epochs, trace["target"][pick], ".--", color="tab:blue", label="target Z / (1 - a^t)")
    ax.set(xlabel="epoch t", ylabel=f"P(class {cls})", ylim=(0, 1), xticks=epochs)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_consistency_refresh(result, title=None):
    """Temporal Ensembling's once-per-epoch targets, read from a stored run's history. Left: steps
    since the targets last changed (:func:`mtlib.book.ensembling.steps_since_refresh`), a sawtooth
    with one tooth per epoch, beside Mean Teacher's teacher, which changes at every step. Right: the
    logged training consistency cost, each value drawn over the window of steps it averages, with
    the ends of epochs dotted and the scheduled weight (purple). Returns the figure."""
    per_epoch, refreshes = refresh_steps(result.history)
    n_steps = result.history[-1]["step"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.3))
    ages = steps_since_refresh(n_steps, refreshes)
    left.plot(range(1, n_steps + 1), [float("nan") if a is None else a for a in ages], color="tab:green",
              lw=1.2, label="Temporal Ensembling: targets change after each epoch")
    left.plot([1, n_steps], [0, 0], color="tab:blue", lw=2, label="Mean Teacher: teacher changes every step")
    left.set(xlabel="training step", ylabel="steps since the targets changed", ylim=(-0.05 * per_epoch, 1.6 * per_epoch))
    for ax in (left, right):
        ax.axvspan(0, refreshes[0] if refreshes else n_steps, color="gray", alpha=0.15,
                   label="first epoch: no target yet")
        ax.grid(alpha=0.3)
    left.legend(fontsize=7, loc="upper right")
    for e in refreshes:
        right.axvline(e, color="gray", lw=0.6, ls=":")
    windows = logged_windows(result.history, "train_consistency_cost")
    right.hlines([v for *_, v in windows], [a - 1 for a, _, _ in windows], [b for _, b, _ in windows],
                 color="tab:green", lw=2, label="consistency cost, mean over each logged window")
    right.set(xlabel="training step", ylabel="consistency cost", ylim=(0, None))
    right.legend(fontsize=7, loc="upper left")
    weights = logged_windows(result.history, "train_weight")
    twin = right.twinx()
    twin.hlines([v for *_, v in weights], [a - 1 for a, _, _ in weights], [b for _, b, _ in weights],
                color="tab:purple", lw=1, alpha=0.7)
    twin.set_ylabel("consistency weight (purple)", color="tab:purple")
    twin.set_ylim(bottom=0)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- EMA schedules (mtlib.training.ema)
def plot_ema_schedules(n_steps, alpha=0.999, rampup_steps=0, alpha_rampup=0.99, title=None):
    """The decay alpha_t of each mtlib.training.ema schedule over ``n_steps`` steps (left) and its averaging
    horizon 1 / (1 - alpha_t) in steps (right, log scale): roughly how many recent student weights
    the teacher averages. Returns the figure."""


    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    steps = list(range(n_steps))
    for schedule, style in zip(EMA_SCHEDULES, ("-", "--", ":")):
        decay = [ema_decay(t, schedule, alpha, rampup_steps, alpha_rampup) for t in steps]
        left.plot(steps, decay, style, lw=1.8, label=schedule)
        right.plot(steps, [1.0 / (1.0 - a) for a in decay], style, lw=1.8, label=schedule)
    left.set_ylim(0.9, 1.0)
    left.set_ylabel(r"EMA decay $\alpha_t$")
    right.set_yscale("log")
    right.set_ylabel(r"horizon $1/(1-\alpha_t)$ (steps)")
    return _finish(fig, (left, right), title, xlabel="training step")


# ---------------------------------------------------------------- one figure per slider value
def plot_curves_per_value(values, results, name="α", scale="", metric="test_error", figsize=(5.4, 3.4)):
    """One figure per value (for mtlib.book.widgets.precomputed_slider): the student and EMA ``metric``
    curves of ``results[i]``, the final numbers and ``scale`` in the title, and the same y-limits in
    every figure so that sliding compares like with like."""
    if len(values) != len(results) or not values:
        raise ValueError(f"values ({len(values)}) and results ({len(results)}) must be non-empty and equal in length")
    figures, low, high = [], float("inf"), float("-inf")
    for value, r in zip(values, results):
        fig, ax = plt.subplots(figsize=figsize)
        plot_curves([r], metric=metric, labels=[f"{name} = {value}"], ax=ax)
        student, ema = r.final[f"student_{metric}"], r.final[f"ema_{metric}"]
        unit = "%" if metric.endswith("error") else ""
        ax.set_title(f"{name} = {value}: final {metric.replace('_', ' ')} student {student:.2f}{unit}, "
                     f"EMA {ema:.2f}{unit}\n{scale}", fontsize=8)
        y0, y1 = ax.get_ylim()
        low, high = min(low, y0), max(high, y1)
        figures.append(fig)
    for fig in figures:
        fig.axes[0].set_ylim(low, high)
        fig.tight_layout()
    return figures


# ---------------------------------------------------------------- Figure 3 (Sec. 3.3)
# names, colours (the paper's Fig. 3 colours) and line styles: mtlib.book.style


def mean_series(results, name, with_std=False):
    """(steps, values): a history column averaged over ``results`` (e.g. seeds) at the steps they
    share; with ``with_std`` also the sample std over the runs at each step (0 for one run)."""
    series = [dict(zip(*r.series(name))) for r in results]
    if not series:
        return ([], [], []) if with_std else ([], [])
    steps = sorted(set.intersection(*(set(s) for s in series)))
    means = [statistics.fmean(s[t] for s in series) for t in steps]
    if not with_std:
        return steps, means
    stds = [statistics.stdev(s[t] for s in series) if len(series) > 1 else 0.0 for t in steps]
    return steps, means, stds


def band(ax, results, name, **style):
    """Mean line of ``name`` over ``results`` with a +- 1 std band across them."""
    steps, mean, std = mean_series(results, name, with_std=True)
    line, = ax.plot(steps, mean, **style)
    ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                    color=line.get_color(), alpha=0.15, lw=0)
    return line


def plot_figure3(results_by_setting, title=None):
    """Fig. 3 layout: one column per setting (e.g. "all labels", "1000 labels").

    ``results_by_setting``: {setting: {method: [RunResult, ...]}}; lines are means over the runs,
    bands +- 1 std across them (seeds). Top: training classification cost on labeled images (the
    student's, averaged over each ``eval_every`` window, log scale). Bottom: test error of the
    student and the EMA model, zoomed to the range the curves reach after the first evaluation.
    """
    columns = list(results_by_setting)
    fig, axes = plt.subplots(2, len(columns), figsize=(4.4 * len(columns), 6.2), squeeze=False, sharex="col",
                             sharey="row")
    for j, setting in enumerate(columns):
        top, bottom = axes[0, j], axes[1, j]
        for method, runs in results_by_setting[setting].items():
            label, n = METHOD_LABELS.get(method, method), len(runs)
            band(top, runs, "train_class_cost", color=FIG3_COLORS.get((method, "student")),
                  ls=LINESTYLES.get(method, "-"), label=f"{label}, student")
            for model in ("student", "ema"):
                band(bottom, runs, f"{model}_test_error", color=FIG3_COLORS.get((method, model)),
                      ls=LINESTYLES.get(method, "-"), label=f"{label}, {'EMA' if model == 'ema' else model}")
        top.set_title(f"{setting} (mean of {n} run{'s' if n != 1 else ''})", fontsize=10)
        top.set_yscale("log")
        bottom.set_xlabel("training step")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    late = [v for ax in axes[1] for line in ax.lines for v in line.get_ydata()[1:]]
    if late:   # the gaps between methods are a few points: zoom past the first evaluation
        axes[1, 0].set_ylim(min(late) - 1, max(late) + 1)
    axes[0, 0].set_ylabel("training classification cost\n(labeled images)")
    axes[1, 0].set_ylabel("test error (%)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


SERIES_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def plot_figure4(panels, metric="ema_test_error", suptitle=None, ncols=3):
    """Figure 4 (a-f): one plot_sweep panel per dict in ``panels``; returns the figure.

    A panel is dict(title, xlabel, values, series={name: runs per value}, marked=base value or None,
    reference=None or (y, label) for a horizontal line, e.g. the base run when the base value is off
    the axis). The base value's tick label is bold; a panel with several series gets a legend."""
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.1 * nrows), squeeze=False, sharey="row")
    for ax, p in zip(axes.flat, panels):
        many = len(p["series"]) > 1
        for color, (name, runs) in zip(SERIES_COLORS, p["series"].items()):
            plot_sweep(list(p["values"]), runs, metric, ax=ax, xlabel=p.get("xlabel", ""),
                       marked=p.get("marked"), title=p.get("title"), color=color,
                       label=name if many else None)
        if p.get("reference") is not None:
            ax.axhline(p["reference"][0], color="gray", ls="--", lw=1, label=p["reference"][1])
        if p.get("marked") in list(p["values"]):
            ax.get_xticklabels()[list(p["values"]).index(p["marked"])].set_fontweight("bold")
        if many or p.get("reference") is not None:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


VERDICT_COLORS = {"a_lower": "C2", "b_lower": "C3", "unresolved": "0.45"}


def forest_plot(comparisons, title=None, unit="points", ax=None, count="seeds", xlim=None, labels=None):
    """One row per paired comparison (``mtlib.book.stats.Paired``, A − B): its mean as a point and its
    interval as a bar, zero marked; the colour is the interval rule's verdict (green: A lower, red:
    B lower, grey: not resolved). Row labels are written in full, above each bar, with the number of
    pairs (``count`` names what is paired: seeds, or runs); ``labels``, one per row, replace "A − B".
    ``xlim=(low, high)`` keeps one far row from squeezing the rest: a bar beyond it is cut at the edge,
    marked with an arrow and its mean."""
    comparisons = list(comparisons)
    labels = [f"{c.a} − {c.b}" for c in comparisons] if labels is None else list(labels)
    if len(labels) != len(comparisons):
        raise ValueError(f"labels has {len(labels)} entries for {len(comparisons)} comparisons: give one per row")
    ax = _ax(ax, figsize=(7.5, 0.62 * len(comparisons) + 0.9))
    for y, (c, label) in enumerate(zip(reversed(comparisons), reversed(labels))):
        verdict = "a_lower" if c.a_lower else "b_lower" if c.b_lower else "unresolved"
        color = VERDICT_COLORS[verdict]
        finite = c.low > -float("inf") and c.high < float("inf")
        low, high, mean = c.low, c.high, c.mean
        if xlim is not None:
            low, high, mean = (min(max(v, xlim[0]), xlim[1]) for v in (low, high, mean))
        if finite:
            ax.plot([low, high], [y, y], color=color, lw=2.2, solid_capstyle="butt")
        ax.plot([mean], [y], ">" if mean != c.mean and c.mean > 0 else "<" if mean != c.mean else "o",
                color=color, ms=6)
        if mean != c.mean:
            ax.annotate(f"{c.mean:+.1f}", (mean, y), xytext=(-4 if c.mean > 0 else 4, -11),
                        textcoords="offset points", fontsize=7, ha="right" if c.mean > 0 else "left", color=color)
        ax.annotate(f"{label}   ({c.n} {count})", (0, y), xycoords=("axes fraction", "data"),
                    xytext=(2, 7), textcoords="offset points", fontsize=7.5, va="bottom")
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.axvline(0, color="0.3", lw=0.9, ls="--")
    ax.set_yticks([])
    ax.set_ylim(-1.4, len(comparisons) - 0.1)     # room for the legend below the last row
    level = comparisons[0].level * 100 if comparisons else 95
    ax.set_xlabel(f"paired difference, A − B ({unit}); bar: {level:g} % interval")
    handles = [plt.Line2D([], [], color=VERDICT_COLORS[v], marker="o", lw=2, label=label)
               for v, label in (("a_lower", "A lower"), ("b_lower", "B lower"), ("unresolved", "not resolved"))]
    ax.legend(handles=handles, fontsize=7, loc="lower right", frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    ax.figure.tight_layout()
    return ax


def plot_label_curve(curve, ax=None, title=None):
    """Error against the number of labels (log scale), one line per method with its 95 % interval of
    the mean as a band: ``mtlib.book.tables.label_curve``'s rows."""
    from mtlib.book.style import STYLES

    ax = _ax(ax, figsize=(5.6, 3.6))
    by_name = {s.name: (m, s) for m, s in STYLES.items()}
    for name, part in curve.groupby("method", sort=False):
        method, style = by_name.get(name, (None, None))
        color = style.colors["ema"] if style else None
        ax.plot(part["labels"], part["mean"], marker="o", color=color, ls=style.linestyle if style else "-", label=name)
        banded = part.dropna(subset=["low", "high"])
        ax.fill_between(banded["labels"], banded["low"], banded["high"], color=color, alpha=0.15, lw=0)
    counts = sorted(curve["labels"].unique())
    ax.set_xscale("log")
    ax.set_xticks(counts, [f"{n:g}" for n in counts])
    ax.minorticks_off()
    ax.set(xlabel="labeled images", ylabel="final test error (%)")
    ax.legend(fontsize=7, title="band: 95 % interval of the mean", title_fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_collapse(arms, metric="ema_test_error", title=None):
    """The ablations' collapse over training (``mtlib.book.ablations.collapse_arms``): left, ``metric``
    per arm (mean over seeds, ±1 std band); right, the training costs (classification solid, Mean
    Teacher's consistency cost dashed, log scale)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.4))
    for i, (name, runs) in enumerate(arms.items()):
        if not runs:
            continue
        color = f"C{i}"
        band(left, runs, metric, color=color, label=name)
        band(right, runs, "train_class_cost", color=color, label=f"{name}: classification")
        if runs[0].config["method"] != "supervised":
            band(right, runs, "train_consistency_cost", color=color, ls="--", label=f"{name}: consistency")
    left.set(ylabel=metric.replace("_", " ") + " (%)")
    right.set(ylabel="training cost (per batch)", yscale="log")
    return _finish(fig, (left, right), title, xlabel="training step", legend_size=6.5)
