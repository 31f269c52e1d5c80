"""The paper's Figure 2 drawn by mtlib.book.figure2: its labels, its arrows, and where it draws."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from mtlib.book.figure2 import draw_figure2  # noqa: E402


def teardown_function():
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_draws_every_label_of_the_paper_figure():
    fig = draw_figure2()
    text = "\n".join(_texts(fig.axes[0]))
    for label in [r"$\eta$", r"$\eta'$", r"$\theta$", r"$\theta'$", "$x$", "$y$", "student", "teacher",
                  "prediction", "classification\ncost", "consistency\ncost", "exponential\nmoving average"]:
        assert label in text, f"{label!r} is missing from Figure 2"
    assert text.count("prediction") == 2, "one prediction for the student and one for the teacher"


def test_labels_are_valid_mathtext_and_the_figure_renders():
    fig = draw_figure2()
    fig.canvas.draw()   # raises on a mathtext parse error
    assert all(t.get_window_extent().width > 0 for t in fig.axes[0].texts)


def _arrows(ax):
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch)]


def _box_of(ax, label):
    """The box (FancyBboxPatch) whose centre holds the text ``label``."""
    (text,) = [t for t in ax.texts if t.get_text() == label]
    x, y = text.get_position()
    (box,) = [b for b in ax.patches if isinstance(b, FancyBboxPatch) and b.contains_point(
        ax.transData.transform((x, y)))]
    return box


def test_has_boxes_and_arrows_including_a_dashed_ema_arrow():
    fig = draw_figure2()
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = _arrows(ax)
    assert len(boxes) == 10
    assert len(arrows) == 11
    dashed = [a for a in arrows if a.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == 1, "exactly one arrow, the EMA theta -> theta', is dashed"


def test_the_ema_arrow_goes_from_student_to_teacher():
    fig = draw_figure2()
    ax = fig.axes[0]
    fig.canvas.draw()
    (ema,) = [a for a in _arrows(ax) if a.get_linestyle() not in ("-", "solid")]
    start, end = ema._posA_posB   # data coordinates
    student, teacher = _box_of(ax, "student\n" + r"$\theta$"), _box_of(ax, "teacher\n" + r"$\theta'$")
    assert student.get_y() <= start[1] <= student.get_y() + student.get_height() + 1e-9
    assert teacher.get_y() <= end[1] <= teacher.get_y() + teacher.get_height() + 1e-9


def test_only_the_student_prediction_meets_the_label():
    """The classification cost takes the label y and the student's prediction only (Fig. 2)."""
    ax = draw_figure2().axes[0]
    cls = _box_of(ax, "classification\ncost")
    into_cls = [a for a in _arrows(ax) if cls.get_x() - 1e-9 <= a._posA_posB[1][0] <= cls.get_x() + cls.get_width()
                and cls.get_y() - 1e-9 <= a._posA_posB[1][1] <= cls.get_y() + cls.get_height() + 1e-9]
    assert len(into_cls) == 2   # from y and from the student's prediction
    teacher = _box_of(ax, "teacher\n" + r"$\theta'$")
    assert all(a._posA_posB[0][1] > teacher.get_y() + teacher.get_height() for a in into_cls)


def test_draws_on_a_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    assert draw_figure2(ax=right) is fig
    assert not left.texts and right.texts
    assert not right.axison
