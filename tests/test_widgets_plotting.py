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


# ---------------------------------------------------------------- the Mean Teacher chapter's comparison sliders
from matplotlib.collections import PolyCollection  # noqa: E402

from mtlib.book import sweeps  # noqa: E402


def seeded(method="mean_teacher", shift=0.0, seeds=(0, 1, 2)):
    """One fake run per seed; seed s adds s to every error, so the std over seeds (0, 1, 2) is 1."""
    runs = []
    for s in seeds:
        r = fake(method, shift + s)
        r.config = {"method": method, "seed": s}
        runs.append(r)
    return runs


def test_sweep_configs_are_the_precomputed_runs():
    from mtlib.book.ablations import figure4_points
    from mtlib.book.chapter import chapter_config
    from mtlib.reproduce.presets import get_preset
    from mtlib.results import run_key
    from mtlib.scales import CPU_GRIDS

    seeds = CPU_GRIDS["ablation_seeds"]
    base = chapter_config({}, method="mean_teacher", seed=CPU_GRIDS["seeds"][0])
    points = {run_key(p.replace(seed=s).to_dict()) for s in seeds for p in figure4_points(base, CPU_GRIDS).values()}
    tables = {run_key(r.config) for r in get_preset("cpu-tables").runs()}
    for knob, values in (("ema_decay", CPU_GRIDS["ema_grid"]), ("consistency_weight", CPU_GRIDS["weight_grid"])):
        per_value, baseline = sweeps.sweep_configs(base, knob, values, seeds)
        assert len(per_value) == len(values)
        for value, configs in zip(values, per_value):
            assert [c.seed for c in configs] == list(seeds)
            assert all(getattr(c, knob) == value and c.method == "mean_teacher" for c in configs)
            assert {run_key(c.to_dict()) for c in configs} <= points          # the Figure 4 points
        assert [c.seed for c in baseline] == list(seeds) and {c.method for c in baseline} == {"supervised"}
        assert baseline == [base.replace(method="supervised", seed=s) for s in seeds]
        assert {run_key(c.to_dict()) for c in baseline} <= tables             # the tables' cells


def test_sweep_runs_loads_each_distinct_run_once(monkeypatch):
    from mtlib.book.chapter import chapter_config

    asked = []

    def fake_run_grid(configs, results_dir, retrain=False):
        asked.extend(configs)
        return [fake(c.method, shift=c.ema_decay + c.seed) for c in configs]

    monkeypatch.setattr(sweeps, "run_grid", fake_run_grid)
    base = chapter_config({}, method="mean_teacher", seed=0)
    per_value, baseline = sweeps.sweep_runs(base, "ema_decay", [0.9, base.ema_decay], [0, 1], "unused")
    assert len(asked) == 2 * 2 + 2
    assert [len(runs) for runs in per_value] == [2, 2] and len(baseline) == 2
    assert per_value[1][1].final["ema_test_error"] == pytest.approx(58 - 9 + base.ema_decay + 1)
    assert {r.config["method"] for r in baseline} == {"supervised"}


def test_plot_gap_per_value_overlays_mean_teacher_and_the_baseline():
    values = [0.0, 0.9, 0.99]
    per_value = [seeded(shift=v * 10) for v in values]
    baseline = seeded("supervised", shift=10.0)
    figs = sweeps.plot_gap_per_value(values, per_value, baseline, name="α", scale="tiny")
    assert len(figs) == len(values)
    for value, fig in zip(values, figs):
        ax, = fig.axes
        labels = [line.get_label() for line in ax.lines]
        assert labels == [sweeps.BASELINE_LABEL, "Mean Teacher, student", "Mean Teacher, teacher (EMA)"]
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 3     # one ±1 std band per line
        baseline_line = ax.lines[0]
        assert list(baseline_line.get_ydata()) == pytest.approx([58 - s + 11.0 for s in (3, 6, 9)])   # mean over seeds
        assert f"α = {value}" in ax.get_title() and "3 seed(s)" in ax.get_title() and "tiny" in ax.get_title()
    assert "gap -10.00" in figs[0].axes[0].get_title() and "gap -0.10" in figs[2].axes[0].get_title()
    band = figs[0].axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() - band.min() >= 2.0 - 1e-9              # the std over seeds (0, 1, 2) is 1: band ±1
    assert len({fig.axes[0].get_ylim() for fig in figs}) == 1  # the same axes in every figure
    with pytest.raises(ValueError, match="values"):
        sweeps.plot_gap_per_value([0.9], [], baseline)
    with pytest.raises(ValueError, match="baseline"):
        sweeps.plot_gap_per_value([0.9], [seeded()], [])


def test_gap_figures_feed_the_precomputed_slider():
    values = [1.0, 3.0, 10.0]
    figs = sweeps.plot_gap_per_value(values, [seeded(shift=w) for w in values], seeded("supervised"), name="w")
    slider, stack = precomputed_slider(values, figs, description="consistency weight", value=3.0).children
    assert len(stack.children) == len(values) and slider.index == stack.selected_index == 1


def test_plot_final_vs_value_with_the_supervised_band():
    values = [0.0, 0.9, 0.99, 0.999]
    per_value = [seeded(shift=i) for i in range(len(values))]
    baseline = seeded("supervised", shift=5.0)
    ax = sweeps.plot_final_vs_value(values, per_value, baseline, xlabel="EMA decay α", marked=0.99)
    sup = [line for line in ax.lines if line.get_label().startswith("supervised-only")]
    assert len(sup) == 1 and list(sup[0].get_ydata()) == pytest.approx([49 + 5 + 1] * 2)   # a horizontal line
    assert any(p.get_height() == pytest.approx(2.0) for p in ax.patches)                  # its ±1 std band
    mean_line = [line for line in ax.lines if line.get_marker() == "s"][0]
    assert list(mean_line.get_ydata()) == pytest.approx([50 + i for i in range(len(values))])
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in values]
    assert ax.get_xticklabels()[2].get_fontweight() == "bold"
    with pytest.raises(ValueError, match="values"):
        sweeps.plot_final_vs_value([0.9, 0.99], [seeded()], baseline)


def test_sweep_frame_gives_the_gap_per_value():
    frame = sweeps.sweep_frame([1.0, 3.0], [seeded(shift=0.0), seeded(shift=2.0)], seeded("supervised", 1.0), name="w")
    assert list(frame.index) == [1.0, 3.0]
    assert list(frame["gap to supervised-only"]) == pytest.approx([-1.0, 1.0])
    assert frame.loc[1.0, "Mean Teacher, EMA"] == "50.00 ± 1.00"
    assert frame.attrs["supervised-only, EMA"] == "51.00 ± 1.00"


def test_plot_gap_per_value_zooms_past_the_first_evaluations():
    baseline = seeded("supervised", shift=10.0)
    figs = sweeps.plot_gap_per_value([0.9, 0.99], [seeded(), seeded(shift=1.0)], baseline, zoom_from=6)
    low, high = figs[0].axes[0].get_ylim()
    assert (low, high) == pytest.approx((50 - 2, 63 + 2))   # the lines' means from step 6 on (EMA 50 .. baseline 63), +- 2
    assert figs[1].axes[0].get_ylim() == (low, high) and "≥ 6" in figs[0].axes[0].get_ylabel()


def test_forest_plot_draws_each_interval_with_its_verdict_colour_and_full_labels():
    from mtlib.book.plots import VERDICT_COLORS, forest_plot
    from mtlib.book.stats import Paired

    long_name = "Mean Teacher, paper schedule (9000 steps)"
    rows = [Paired(a=long_name, b="decay 0", n=8, mean=-3.1, low=-4.5, high=-1.7),
            Paired(a="Π", b="supervised", n=8, mean=0.4, low=-0.2, high=1.0),
            Paired(a="TE", b="MT", n=8, mean=1.2, low=0.3, high=2.1)]
    ax = forest_plot(rows)
    bars = [line for line in ax.lines if len(line.get_xdata()) == 2 and line.get_linestyle() == "-"]
    assert [tuple(b.get_xdata()) for b in bars] == [(0.3, 2.1), (-0.2, 1.0), (-4.5, -1.7)]   # bottom to top
    assert [b.get_color() for b in bars] == [VERDICT_COLORS["b_lower"], VERDICT_COLORS["unresolved"],
                                             VERDICT_COLORS["a_lower"]]
    labels = [t.get_text() for t in ax.texts]
    assert f"{long_name} − decay 0   (8 seeds)" in labels                 # never truncated
    assert any(line.get_xdata()[0] == 0 and line.get_linestyle() == "--" for line in ax.lines)


def test_forest_plot_cuts_a_far_row_at_xlim_and_prints_its_mean():
    from mtlib.book.plots import forest_plot
    from mtlib.book.stats import Paired

    rows = [Paired(a="collapse", b="base", n=4, mean=44.1, low=39.8, high=48.4),
            Paired(a="weight 0", b="base", n=4, mean=3.8, low=2.1, high=5.5)]
    ax = forest_plot(rows, xlim=(-5, 12), count="runs")
    bars = [tuple(line.get_xdata()) for line in ax.lines if len(line.get_xdata()) == 2 and line.get_linestyle() == "-"]
    assert bars == [(2.1, 5.5), (12, 12)]                  # bottom to top: the far bar cut at the edge
    texts = [t.get_text() for t in ax.texts]
    assert "+44.1" in texts and "collapse − base   (4 runs)" in texts
    assert ax.get_xlim() == (-5, 12)


def test_forest_plot_takes_one_label_per_row():
    from mtlib.book.plots import forest_plot
    from mtlib.book.stats import Paired

    rows = [Paired(a="A", b="B", n=4, mean=-1.0, low=-2.0, high=0.5), Paired(a="C", b="D", n=8, mean=1.0, low=0.2, high=1.8)]
    ax = forest_plot(rows, labels=["claim one; exploratory seeds 0–7", "claim one; confirmatory seeds 100–107"])
    texts = [t.get_text() for t in ax.texts]
    assert "claim one; exploratory seeds 0–7   (4 seeds)" in texts and "claim one; confirmatory seeds 100–107   (8 seeds)" in texts
    with pytest.raises(ValueError, match="labels has 1 entries for 2 comparisons"):
        forest_plot(rows, labels=["only one"])
