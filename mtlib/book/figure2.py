"""The paper's Figure 2, drawn with matplotlib: the Mean Teacher method as boxes and arrows.

One labeled input x goes, with noise eta, through the student (weights theta) and, with noise
eta', through the teacher (weights theta'). The student's prediction meets the label y in the
classification cost; the two predictions meet in the consistency cost J (Sec. 2); after every
step the teacher's weights become the exponential moving average of the student's,
theta'_t = alpha theta'_{t-1} + (1 - alpha) theta_t. Labels are mathtext, so no LaTeX is needed.
"""
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

STUDENT, TEACHER, COST, DATA = "#f4a261", "#2a9d8f", "#e9ecef", "#ffffff"

# name: (x, y, width, height, text, face colour); x, y is the box's lower left corner
BOXES = {
    "x": (0.2, 2.55, 0.9, 0.9, "$x$", DATA),
    "eta": (3.55, 5.4, 0.9, 0.7, r"$\eta$", DATA),
    "eta'": (3.55, -0.1, 0.9, 0.7, r"$\eta'$", DATA),
    "student": (3.0, 3.9, 2.0, 1.1, "student\n" + r"$\theta$", STUDENT),
    "teacher": (3.0, 1.0, 2.0, 1.1, "teacher\n" + r"$\theta'$", TEACHER),
    "pred": (5.8, 4.05, 1.5, 0.8, "prediction", DATA),
    "pred'": (5.8, 1.15, 1.5, 0.8, "prediction", DATA),
    "y": (8.6, 5.45, 0.8, 0.7, "$y$", DATA),
    "class": (7.9, 4.05, 2.2, 0.8, "classification\ncost", COST),
    "cons": (7.9, 2.55, 2.2, 0.8, "consistency\ncost", COST),
}

# (from, to, from side, to side, style); sides are "l", "r", "t", "b" (mid-points of the box)
ARROWS = [
    ("x", "student", "t", "l", "-|>"), ("x", "teacher", "b", "l", "-|>"),
    ("eta", "student", "b", "t", "-|>"), ("eta'", "teacher", "t", "b", "-|>"),
    ("student", "pred", "r", "l", "-|>"), ("teacher", "pred'", "r", "l", "-|>"),
    ("pred", "class", "r", "l", "-|>"), ("y", "class", "b", "t", "-|>"),
    ("pred", "cons", "b", "l", "-|>"), ("pred'", "cons", "t", "l", "-|>"),
]


def _anchor(name, side):
    x, y, w, h = BOXES[name][:4]
    return {"l": (x, y + h / 2), "r": (x + w, y + h / 2), "t": (x + w / 2, y + h), "b": (x + w / 2, y)}[side]


def _arrow(ax, start, end, **kwargs):
    style = dict(arrowstyle="-|>", mutation_scale=14, lw=1.4, color="#333333", shrinkA=0, shrinkB=0)
    style.update(kwargs)
    return ax.add_patch(FancyArrowPatch(start, end, **style))


def draw_figure2(ax=None):
    """Draw the paper's Figure 2 (Mean Teacher) on ``ax`` (a new figure if None); return the Figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 5.4))
    for x, y, w, h, text, face in BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.04,rounding_size=0.12",
                                    facecolor=face, edgecolor="#333333", lw=1.2))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=12)
    for start, end, side_a, side_b, style in ARROWS:
        _arrow(ax, _anchor(start, side_a), _anchor(end, side_b), arrowstyle=style,
               connectionstyle="angle,angleA=90,angleB=0" if side_a in "tb" and side_b == "l" else "arc3")
    # the EMA: theta -> theta', drawn between the two networks, dashed
    ema_start, ema_end = _anchor("student", "b"), _anchor("teacher", "t")
    _arrow(ax, ema_start, ema_end, linestyle="--", color=TEACHER, lw=2.0)
    ax.text(ema_start[0] + 0.12, (ema_start[1] + ema_end[1]) / 2,
            "exponential\nmoving average\n" + r"$\theta' \leftarrow \alpha\,\theta' + (1-\alpha)\,\theta$",
            ha="left", va="center", fontsize=10, color="#1d6f65")
    ax.set_xlim(0, 10.3)
    ax.set_ylim(-0.3, 6.35)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Mean Teacher (paper, Figure 2)", fontsize=12)
    return ax.figure
