"""Pictures of the Figure 1 toy (:mod:`mtlib.book.toy`): one panel, the whole figure, a slider's frames."""
import torch

from mtlib.book.toy import CAPTIONS

# in these panels the teacher is the student itself, so only one curve is drawn
_SELF_TAUGHT = ("s", "p", "w")


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
    if r.teacher_prob is not None and r.panel not in _SELF_TAUGHT:
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
