"""Plot helpers and the precomputed slider, on hand-made results (no training, no data)."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from mtlib.book import plots as plotting  # noqa: E402
from mtlib.results import RunResult  # noqa: E402
from mtlib.book.widgets import precomputed_slider  # noqa: E402


def fake(method="mean_teacher", shift=0.0, steps=(3, 6, 9)):
    rows = [{"step": s, "train_class_cost": 2.0 / s + shift, "student_test_error": 60 - s + shift,
             "ema_test_error": 58 - s + shift} for s in steps]
    final = {k: v for k, v in rows[-1].items() if k != "step"}
    return RunResult(config={"method": method, "seed": 0}, history=rows, final=final)


def teardown_function():
    plt.close("all")


def test_plot_ema_schedules_draws_each_schedule():
    fig = plotting.plot_ema_schedules(50, alpha=0.999, rampup_steps=20, alpha_rampup=0.99, title="t")
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["constant", "rampup_switch", "warm_start"]
    switch = right.lines[1].get_ydata()
    assert switch[0] == pytest.approx(100.0) and switch[-1] == pytest.approx(1000.0)
    assert right.lines[2].get_ydata()[0] == pytest.approx(2.0)     # warm start: alpha_0 = 0.5 (PyTorch code)


def test_mean_series_averages_on_shared_steps():
    a, b = fake(shift=0.0), fake(shift=2.0, steps=(3, 6))
    steps, values = plotting.mean_series([a, b], "ema_test_error")
    assert steps == [3, 6]
    assert values == pytest.approx([56.0, 53.0])
    assert plotting.mean_series([], "ema_test_error") == ([], [])


def test_plot_curves_per_value_titles_and_shared_limits():
    figs = plotting.plot_curves_per_value([0.9, 0.99], [fake(), fake(shift=20.0)], name="α", scale="tiny")
    assert len(figs) == 2
    title = figs[1].axes[0].get_title()
    assert "α = 0.99" in title and "student 71.00%" in title and "EMA 69.00%" in title and "tiny" in title
    assert figs[0].axes[0].get_ylim() == figs[1].axes[0].get_ylim()
    with pytest.raises(ValueError, match="values"):
        plotting.plot_curves_per_value([0.9], [])


def test_plot_figure3_grid():
    runs = {"all labels": {"mean_teacher": [fake()], "pi": [fake("pi", 1.0)]},
            "40 labels": {"mean_teacher": [fake(), fake(shift=1.0)], "pi": [fake("pi")]}}
    fig = plotting.plot_figure3(runs, title="smoke")
    assert len(fig.axes) == 4
    top, bottom = fig.axes[0], fig.axes[2]
    assert top.get_yscale() == "log" and len(top.lines) == 2 and len(bottom.lines) == 4
    assert "mean of 2 runs" in fig.axes[1].get_title() or "mean of 1 run" in fig.axes[1].get_title()
    colors = {line.get_label(): line.get_color() for line in bottom.lines}
    assert colors["Mean Teacher, EMA"] == "tab:blue" and colors["Π model, student"] == "#aaaaaa"


def test_precomputed_slider_links_on_the_client():
    figs = plotting.plot_curves_per_value([1.0, 10.0], [fake(), fake(shift=1.0)], name="w")
    box = precomputed_slider([1.0, 10.0], figs, description="weight", value=10.0)
    slider, stack = box.children
    assert isinstance(slider, widgets.SelectionSlider) and slider.index == 1
    assert stack.selected_index == 1 and len(stack.children) == 2
    from ipywidgets.widgets.widget import _instances        # the live widgets of this kernel
    links = [w for w in _instances.values() if type(w).__name__ == "Link"]
    # a client-side link (works in the static book): slider.index -> stack.selected_index
    assert any(link.source == (slider, "index") and link.target == (stack, "selected_index") for link in links)
