"""Mean Teacher + VAT drawn as the paper's Figure 2 (``mtlib.book.figure2``): one diagram per combination.

(a) ``draw_combination_a``: Figure 2 plus the student's own VAT cost: a second student pass at
x + η + r_adv is compared with the student's clean prediction (a constant target).
(b) ``draw_combination_b``: Figure 2 with the student's noise η + r_adv, r_adv chosen to maximise the
consistency cost against the teacher's prediction (dashed: the power iteration reads J).
"""
import matplotlib.pyplot as plt

from mtlib.book.figure2 import ARROWS, BOXES, COST, DATA, STUDENT, TEACHER, _arrow
from mtlib.book.figure2 import FancyBboxPatch

ADVERSARIAL = "#e76f51"


def _anchor(boxes, name, side):
    x, y, w, h = boxes[name][:4]
    return {"l": (x, y + h / 2), "r": (x + w, y + h / 2), "t": (x + w / 2, y + h), "b": (x + w / 2, y)}[side]


def _draw(ax, boxes, arrows, title, xlim, ylim):
    for x, y, w, h, text, face in boxes.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.04,rounding_size=0.12",
                                    facecolor=face, edgecolor="#333333", lw=1.2))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=11)
    for start, end, side_a, side_b, style, *extra in arrows:
        kwargs = extra[0] if extra else {}
        _arrow(ax, _anchor(boxes, start, side_a), _anchor(boxes, end, side_b), arrowstyle=style,
               connectionstyle="angle,angleA=90,angleB=0" if side_a in "tb" and side_b == "l" else "arc3", **kwargs)
    ema_start, ema_end = _anchor(boxes, "student", "b"), _anchor(boxes, "teacher", "t")
    _arrow(ax, ema_start, ema_end, linestyle="--", color=TEACHER, lw=2.0)
    ax.text(ema_start[0] + 0.12, (ema_start[1] + ema_end[1]) / 2, "EMA\n" + r"$\theta' \leftarrow \alpha\,\theta' + (1-\alpha)\,\theta$",
            ha="left", va="center", fontsize=9, color="#1d6f65")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=12)
    return ax.figure


def draw_combination_a(ax=None):
    """(a) Mean Teacher's costs plus the student's own VAT cost; return the Figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 7.2))
    boxes = {**BOXES,
             "radv": (0.2, 7.0, 2.2, 0.8, r"$x + \eta + r_{adv}$", ADVERSARIAL),
             "adv": (3.0, 6.7, 2.0, 1.1, "student\n" + r"$\theta$ at $+\,r_{adv}$", STUDENT),
             "pred_adv": (5.8, 6.85, 1.5, 0.8, "prediction", DATA),
             "vat": (7.9, 6.85, 2.2, 0.8, "VAT cost", COST)}
    boxes["eta"] = (3.55, 5.45, 0.9, 0.6, r"$\eta$", DATA)
    boxes["y"] = (10.6, 4.1, 0.7, 0.7, "$y$", DATA)
    arrows = [a for a in ARROWS if a[:2] not in {("eta", "student"), ("y", "class")}] + [
        ("eta", "student", "b", "t", "-|>"), ("y", "class", "l", "r", "-|>"),
        ("radv", "adv", "r", "l", "-|>"), ("adv", "pred_adv", "r", "l", "-|>"), ("pred_adv", "vat", "r", "l", "-|>"),
        ("pred", "vat", "t", "b", "-|>", dict(color=ADVERSARIAL, linestyle=":"))]
    fig = _draw(ax, boxes, arrows, "(a) Mean Teacher + the student's own VAT cost", (0, 11.5), (-0.3, 8.1))
    ax.text(6.0, 5.6, "target: the student's\nclean prediction (constant)", fontsize=8.5, color=ADVERSARIAL)
    return fig


def draw_combination_b(ax=None):
    """(b) The student's noise chosen adversarially against the teacher's target; return the Figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 6.4))
    boxes = {**BOXES, "eta": (2.9, 5.4, 2.2, 0.7, r"$\eta + r_{adv}$", ADVERSARIAL)}
    fig = _draw(ax, boxes, ARROWS, "(b) Mean Teacher, the student's noise adversarial to the teacher",
                (0, 10.8), (-0.3, 7.4))
    start, end = _anchor(boxes, "cons", "r"), _anchor(boxes, "eta", "t")
    _arrow(ax, start, (start[0] + 0.3, end[1] + 0.6), arrowstyle="-", color=ADVERSARIAL, linestyle=":",
           connectionstyle="angle,angleA=90,angleB=0")
    _arrow(ax, (start[0] + 0.3, end[1] + 0.6), end, color=ADVERSARIAL, linestyle=":",
           connectionstyle="angle,angleA=180,angleB=90")
    ax.text(5.6, 6.85, r"$r_{adv}$ maximises $J$ (power iteration)", fontsize=9, color=ADVERSARIAL)
    return fig
