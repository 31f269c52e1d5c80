"""Plot helpers for the chapters (d2l-style: a plot is one call, not 20 lines per cell)."""
import statistics

import matplotlib.pyplot as plt

COLORS = {"student": "tab:orange", "ema": "tab:blue"}


def _ax(ax, figsize=(5, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


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
               marked=None, title=None):
    """Fig. 4 style: each run as a dot, the mean over seeds as a line; ``marked`` bolds the default."""
    ax = _ax(ax, figsize=(3.6, 3))
    xs = list(range(len(values))) if not logx else values
    means = []
    for x, runs in zip(xs, results_per_value):
        ys = [r.final[metric] for r in runs]
        ax.plot([x] * len(ys), ys, "o", color="tab:blue", alpha=0.45, ms=4)
        means.append(statistics.fmean(ys) if ys else float("nan"))
    ax.plot(xs, means, "-", color="tab:blue")
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
