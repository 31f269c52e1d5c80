"""Chapter helpers of mtlib.book.tables and mtlib.book.plots (fake results, no training)."""
import shlex

import pytest

import matplotlib

matplotlib.use("Agg")

from mtlib.book import paper
from mtlib.book import plots as plotting
from mtlib.book import tables  # noqa: E402
from mtlib.results import RunResult, result_path  # noqa: E402


def fake(method, n_labels, seed, error, dataset="cifar10", **config):
    cfg = dict(dataset=dataset, method=method, n_labels=n_labels, seed=seed, **config)
    return RunResult(config=cfg, final={"ema_test_error": error}, provenance={"mtlib_version": "x"})


def test_fill_missing_orders_cells_and_marks_missing():
    rows = tables.summarize([fake("mean_teacher", 1000, 0, 30.0), fake("mean_teacher", 1000, 1, 32.0)])
    out = tables.fill_missing(rows, "cifar10", ["supervised", "mean_teacher"], [1000, 4000])
    assert [(r["method"], r["n_labels"]) for r in out] == [
        ("supervised", 1000), ("supervised", 4000), ("mean_teacher", 1000), ("mean_teacher", 4000)]
    assert out[2]["mean"] == 31.0 and out[0]["mean"] is None
    assert out[0]["paper_mean"] == paper.TABLE2_CIFAR10["Supervised-only"][1000][0]


def test_results_table_reads_files_and_says_not_run_yet(tmp_path):
    for r in (fake("pi", 1000, 0, 40.0, image_size=32), fake("pi", 1000, 1, 44.0, image_size=32),
              fake("pi", 2000, 0, 1.0, image_size=16)):
        r.save(result_path(tmp_path, r.config))
    frame = tables.results_table(tmp_path, "cifar10", ["pi"], [1000, 2000], "ours", image_size=32)
    assert frame.loc["Π model", (1000, "ours")] == "42.00 ± 2.83"           # the method's name, not its code id
    assert frame.loc["Π model", (2000, "ours")] == "not run yet"
    assert frame.loc["Π model", (2000, "paper (paper scale)")] == "18.02 ± 0.60"
    # no paper column at a label count where the paper reports none of the methods
    frame = tables.results_table(tmp_path, "cifar10", ["pi"], [100, 2000], "ours", image_size=32)
    assert list(frame.columns) == [(100, "ours"), (2000, "ours"), (2000, "paper (paper scale)")]


def test_results_table_if_run_is_none_until_a_file_matches(tmp_path):
    assert tables.results_table_if_run(tmp_path, "cifar10", ["pi"], [1000], "ours", image_size=32) is None
    r = fake("pi", 1000, 0, 40.0, image_size=16)
    r.save(result_path(tmp_path, r.config))
    assert tables.results_table_if_run(tmp_path, "cifar10", ["pi"], [1000], "ours", image_size=32) is None
    r = fake("pi", 2000, 0, 41.0, image_size=32)
    r.save(result_path(tmp_path, r.config))
    frame = tables.results_table_if_run(tmp_path, "cifar10", ["pi"], [1000, 2000], "ours", image_size=32)
    assert frame.loc["Π model", (2000, "ours")] == "41.00"
    assert frame.loc["Π model", (1000, "ours")] == "not run yet"


def test_run_times_median_per_method_and_kind_of_machine():
    def run(method, minutes, **provenance):
        return RunResult(config={"method": method}, provenance={"wall_time_s": 60.0 * minutes, "torch_threads": 1,
                                                                 **provenance})
    runs = [run("pi", m, precision="fp32", cpu_capability="AVX2", images_per_s=s) for m, s in ((1, 300), (2, 150), (9, 10))]
    runs.append(run("mean_teacher", 2, precision="bf16"))   # a file from before cpu_capability was recorded
    frame = tables.run_times(runs)
    assert list(frame.index) == ["Π model", "Mean Teacher"]
    assert frame.loc["Π model", "fp32, AVX2, 1 thread(s)"] == "2.0 min, 150 img/s (3)"
    assert frame.loc["Mean Teacher", "bf16, not recorded, 1 thread(s)"] == "2.0 min (1)"   # no speed recorded
    assert frame.loc["Mean Teacher", "fp32, AVX2, 1 thread(s)"] == "—"


def test_preset_plan_and_the_paper_cells_of_a_preset():
    from mtlib.reproduce.presets import get_preset
    table2 = get_preset("table2-cifar10")
    plan = tables.preset_plan([table2, get_preset("table4-resnet")], device="cuda")
    runs = list(table2.runs())
    assert plan.loc["table2-cifar10", "runs"] == len(runs) == 4 * 3 * 10 + 4 * 4
    assert plan.loc["table2-cifar10", "images (millions)"] == round(sum(r.config["steps"] * r.config["batch_size"]
                                                                      for r in runs) / 1e6)
    assert plan.loc["table2-cifar10", "cells with a paper number"] == 14   # TE: only 4000 and all labels
    assert plan.loc["table4-resnet", "command"] == "python -m mtlib.reproduce run table4-resnet --override device=cuda"
    cells = tables.preset_paper_cells(table2)
    assert list(cells.columns) == ["1000 labels", "2000 labels", "4000 labels", "50000 labels"]
    assert cells.loc["Mean Teacher", "4000 labels"] == tables.fmt(*paper.TABLE2_CIFAR10["Mean Teacher"][4000])
    assert cells.loc["Temporal Ensembling", "1000 labels"] == "—"


def test_paper_frame_tables_1_and_4():
    t1 = tables.paper_frame(paper.TABLE1_SVHN)
    assert list(t1.columns) == ["250 labels", "500 labels", "1000 labels", "73257 labels"]
    assert t1.loc["Mean Teacher", "250 labels"] == "4.35 ± 0.50"
    assert t1.loc["Pi model [13]", "250 labels"] == "—"
    t4 = tables.paper_frame(paper.TABLE4_CIFAR10_4000, column="paper: CIFAR-10 4000")
    assert t4.loc["ResNet-26 Mean Teacher", "paper: CIFAR-10 4000"] == "6.28 ± 0.15"
    assert t4.loc["State of the art (VAT+EntMin)", "paper: CIFAR-10 4000"] == "10.55"


def test_rank_methods_skips_missing():
    rows = [{"method": "a", "n_labels": 1, "mean": 3.0}, {"method": "b", "n_labels": 1, "mean": 2.0},
            {"method": "c", "n_labels": 1, "mean": None}]
    assert tables.rank_methods(rows) == {1: ["b", "a"]}


def panel():
    runs = [[fake("mean_teacher", 1, s, 10.0 * v + s) for s in (0, 1)] for v in (0, 1)]
    return dict(title="(c) EMA", xlabel="decay", values=[0.0, 0.99], marked=0.99,
                series={"on": runs, "off": runs[::-1]}, reference=(5.0, "base"))


def test_sweep_mean_and_frame():
    p = panel()
    assert tables.sweep_mean(p, 0.99) == 10.5 and tables.sweep_mean(p, 0.99, "off") == 0.5
    frame = tables.sweep_frame([p])
    assert len(frame) == 4 and frame["base"].tolist() == ["", "◀ base", "", ""]
    assert frame["ema_test_error"].iloc[1] == "10.50 ± 0.71"


def test_plot_figure4_draws_every_panel():
    fig = plotting.plot_figure4([panel(), panel(), panel(), panel()], suptitle="t")
    axes = fig.axes
    assert len(axes) == 6 and not axes[4].axison and axes[0].get_legend() is not None
    assert axes[0].get_xticklabels()[1].get_fontweight() == "bold"
    matplotlib.pyplot.close(fig)


def test_papermill_command_round_trips():
    cmd = tables.papermill_command("book/x.ipynb", {"steps": 150000, "labeled_per_batch": None,
                                                    "methods": ["pi", "mean_teacher"], "scale": "a b"})
    assert shlex.split(cmd) == ["papermill", "book/x.ipynb", "out.ipynb", "-p", "steps", "150000",
                                "-p", "labeled_per_batch", "None", "-y", "methods: [pi, mean_teacher]",
                                "-p", "scale", "a b"]


def test_papermill_command_wraps_lines():
    params = {f"knob{i}": i for i in range(20)}
    cmd = tables.papermill_command("book/x.ipynb", params, width=60)
    assert all(len(line) <= 60 for line in cmd.splitlines()) and len(cmd.splitlines()) > 3
    assert shlex.split(cmd.replace("\\\n", " ")) == shlex.split(tables.papermill_command("book/x.ipynb", params))


def test_mean_between_uses_only_the_window():
    from mtlib.results import RunResult
    from mtlib.book.tables import mean_between
    r = RunResult(config={}, history=[{"step": s, "ema_test_error": float(s)} for s in (250, 500, 750, 1000)])
    assert mean_between(r, "ema_test_error", 500, 750) == 625.0
    with pytest.raises(ValueError, match="between steps 2000 and 3000"):
        mean_between(r, "ema_test_error", 2000, 3000)


def test_label_curve_rows_by_hand_and_its_plot():
    from mtlib.book.plots import plot_label_curve

    def run(method, n, seed, error):
        return RunResult(config={"method": method, "n_labels": n, "seed": seed},
                         final={"ema_test_error": error, "student_test_error": error + 10})
    runs = [run("mean_teacher", 100, s, e) for s, e in ((0, 30.0), (1, 32.0))]
    runs += [run("mean_teacher", 50, 0, 40.0), run("temporal_ensembling", 100, 0, 35.0)]
    curve = tables.label_curve(runs)
    assert curve[["method", "labels", "runs"]].values.tolist() == [["Temporal Ensembling", 100, 1],
                                                                    ["Mean Teacher", 50, 1], ["Mean Teacher", 100, 2]]
    mt = curve.iloc[2]
    # mean 31, sem 1, t(0.975, 1) = 12.706
    assert mt["mean"] == 31.0 and mt["low"] == pytest.approx(31 - 12.706, abs=1e-3)
    assert curve.iloc[0]["mean"] == 45.0            # TE's reported model: its raw network
    assert curve.iloc[1]["low"] != curve.iloc[1]["low"] or curve.iloc[1]["low"] is None   # one run: no interval
    ax = plot_label_curve(curve)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Temporal Ensembling", "Mean Teacher"]
    assert list(ax.lines[1].get_xdata()) == [50, 100]
