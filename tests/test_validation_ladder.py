"""Choosing on validation error (mtlib.book.validation) and the target ladder (mtlib.book.ladder)."""
from types import SimpleNamespace

import pytest

from mtlib.book import ladder, validation
from mtlib.book.chapter import chapter_config


def run(method, weight, seed, val, test=50.0, n_val=1000, student_val=None):
    final = {"ema_val_error": val, "student_val_error": val if student_val is None else student_val,
             "ema_test_error": test, "student_test_error": test}
    return SimpleNamespace(config=dict(method=method, consistency_weight=weight, seed=seed, n_val=n_val), final=final)


def test_each_method_gets_the_weight_with_the_lowest_mean_validation_error():
    runs = []
    for seed in (0, 1):
        runs += [run("pi", 1.0, seed, 30 + seed), run("pi", 3.0, seed, 28 + 4 * seed), run("pi", 10.0, seed, 29.0)]
        # test error would pick 1 for Mean Teacher; validation picks 10 (the test set only reports)
        runs += [run("mean_teacher", 1.0, seed, 27.0, test=10.0), run("mean_teacher", 10.0, seed, 26.0, test=40.0)]
        # Temporal Ensembling is read from its raw network: EMA says 1, the student says 3
        runs += [run("temporal_ensembling", 1.0, seed, 20.0, student_val=31.0),
                 run("temporal_ensembling", 3.0, seed, 25.0, student_val=30.0)]
    # pi: means 30.5 / 30.0 / 29.0 -> 10
    assert validation.choose_weights(runs) == {"pi": 10.0, "mean_teacher": 10.0, "temporal_ensembling": 3.0}
    table = validation.validation_table(runs)
    assert table.loc["Π model", "weight 10"].endswith("*") and not table.loc["Π model", "weight 3"].endswith("*")
    assert table.loc["Π model", "weight 3"].startswith("30.00 ±")


def test_a_choice_on_an_edge_adds_the_point_beyond_it_for_every_method():
    grid, beyond = [1.0, 3.0, 10.0], (0.3, 30.0)
    assert validation.beyond_edges({"pi": 1.0, "mean_teacher": 3.0}, grid, beyond) == [0.3]
    assert validation.beyond_edges({"pi": 3.0, "mean_teacher": 3.0}, grid, beyond) == []
    assert validation.beyond_edges({"pi": 1.0, "temporal_ensembling": 10.0}, grid, beyond) == [0.3, 30.0]
    assert validation.beyond_edges({"mean_teacher": 10.0}, grid, beyond) == [30.0]
    with pytest.raises(ValueError, match=r"beyond=\(1.0, 30.0\) must lie outside"):
        validation.beyond_edges({"pi": 1.0}, grid, (1.0, 30.0))
    with pytest.raises(ValueError, match=r"chosen values \[0.3\] are not in the grid"):
        validation.beyond_edges({"pi": 0.3}, grid, beyond)


def test_the_widened_grid_runs_the_point_beyond_only_where_a_choice_sits_on_an_edge():
    asked = []

    def runs_at(weights, error={0.3: 24.0, 1.0: 25.0, 3.0: 26.0, 10.0: 28.0, 30.0: 29.0}):
        asked.append(list(weights))
        return [run(m, w, s, error[w] + (m == "mean_teacher") * (4.0 - w) ** 2) for w in weights
                for m in ("pi", "mean_teacher") for s in (0, 1)]

    runs, extra = validation.with_beyond_edges(runs_at, [1.0, 3.0, 10.0], (0.3, 30.0))
    assert extra == [0.3] and asked == [[1.0, 3.0, 10.0], [0.3]]      # pi chose 1, Mean Teacher 3
    assert validation.choose_weights(runs) == {"pi": 0.3, "mean_teacher": 3.0}
    assert len(runs) == 16                                              # 4 weights x 2 methods x 2 seeds
    asked.clear()
    runs, extra = validation.with_beyond_edges(runs_at, [3.0, 10.0, 30.0], (1.0, 100.0))
    assert extra == [1.0] and asked == [[3.0, 10.0, 30.0], [1.0]]


def test_ties_go_to_the_smaller_weight_and_unequal_budgets_or_missing_validation_are_refused():
    runs = [run("pi", w, s, 25.0) for w in (3.0, 1.0) for s in (0, 1)]
    assert validation.choose_weights(runs) == {"pi": 1.0}
    with pytest.raises(ValueError, match="different seeds"):
        validation.choose_weights(runs + [run("pi", 10.0, 0, 20.0)])
    with pytest.raises(ValueError, match="n_val=0"):
        validation.choose_weights([run("pi", 1.0, 0, 20.0, n_val=0)])


def test_check_chosen_names_each_method_whose_choice_differs_from_the_one_used():
    validation.check_chosen({"pi": 1.0, "mean_teacher": 3.0}, {"pi": 1.0, "mean_teacher": 3.0})
    validation.check_chosen({"pi": 1.0}, {"pi": 3.0}, check=False)
    with pytest.raises(AssertionError, match=r"'mean_teacher': \(10.0, 3.0\)"):
        validation.check_chosen({"pi": 1.0, "mean_teacher": 10.0}, {"pi": 1.0, "mean_teacher": 3.0})
    with pytest.raises(AssertionError, match=r"'pi': \(None, 1.0\)"):
        validation.check_chosen({}, {"pi": 1.0})


def test_ladder_changes_one_thing_per_rung_and_compares_students_and_averaging(monkeypatch):
    asked = []

    def fake_run_grid(configs, results_dir):
        asked.extend(configs)
        out = []
        for c in configs:     # each rung 1 point better than the one below; EMA 0.5 below the student
            level = [r for r, (_, ch) in enumerate(ladder.rungs())
                     if all(getattr(c, k) == v for k, v in ch.items())][-1]
            student = 30.0 - level + 0.1 * c.seed
            out.append(SimpleNamespace(config=c.to_dict(), final={"student_test_error": student,
                                                                  "ema_test_error": student - 0.5}))
        return out

    monkeypatch.setattr(ladder, "run_grid", fake_run_grid)
    base = chapter_config({}, method="mean_teacher")
    runs = ladder.ladder_runs(base, [0, 1, 2], "unused")
    assert list(runs) == [name for name, _ in ladder.rungs()] and len(asked) == 5 * 3
    methods = [rs[0].config["method"] for rs in runs.values()]
    assert methods == ["supervised", "pi", "mean_teacher", "mean_teacher", "mean_teacher"]
    decays = [(rs[0].config["ema_decay"], rs[0].config["ema_schedule"]) for rs in list(runs.values())[2:]]
    assert decays == [(0.0, "constant"), (0.99, "constant"), (0.999, "rampup_switch")]
    assert all(rs[0].config["consistency_weight"] == base.consistency_weight for rs in runs.values())
    steps = ladder.step_comparisons(runs)
    assert [round(c.mean, 6) for c in steps] == [-1.0] * 4 and all(c.n == 3 for c in steps)
    gaps = ladder.averaging_gaps(runs)
    assert all(round(g.mean, 6) == -0.5 and g.a_lower for g in gaps)
    assert [round(c.mean, 6) for c in ladder.against_bottom(runs)] == [-1.0, -2.0, -3.0, -4.0]
    for rs in runs.values():       # a history: the EMA 2 points ahead at steps 1000-2000, level at 3000
        for r in rs:
            r.history = [{"step": t, "ema_test_error": 40.0 - (2.0 if t < 3000 else 0.0), "student_test_error": 40.0}
                         for t in (500, 1000, 2000, 3000)]
    assert all(round(g.mean, 6) == -2.0 and g.a_lower for g in ladder.averaging_gaps(runs, window=(1000, 2000)))
    table = ladder.rung_table(runs)     # student 30.1 - level (seeds 0-2: +0.0, +0.1, +0.2), EMA 0.5 lower
    assert list(table.index) == list(runs) and list(table.columns) == ["student test error", "EMA test error"]
    assert table.loc["supervised-only", "student test error"] == "30.10 ± 0.10"
    assert table.loc["Π model", "EMA test error"] == "28.60 ± 0.10"


def test_length_runs_scale_the_two_ema_rungs_and_the_trend_is_a_paired_difference_of_differences(monkeypatch, tmp_path):
    asked = []

    def fake_run_grid(configs, results_dir):
        asked.extend(configs)
        return [SimpleNamespace(config=c.to_dict(), final={}) for c in configs]

    monkeypatch.setattr(ladder, "run_grid", fake_run_grid)
    base = chapter_config({}, method="mean_teacher")
    runs = ladder.length_runs(base, [0, 1], "unused", longer=dict(steps=9000, rampup_steps=3000))
    assert list(runs) == [("3000 steps", "detached target (decay 0)"), ("3000 steps", "Mean Teacher, paper schedule"),
                          ("9000 steps", "detached target (decay 0)"), ("9000 steps", "Mean Teacher, paper schedule")]
    assert [(c.steps, c.rampup_steps, c.ema_decay, c.ema_schedule) for c in asked[::2]] == [
        (3000, 1000, 0.0, "constant"), (3000, 1000, 0.999, "rampup_switch"),
        (9000, 3000, 0.0, "constant"), (9000, 3000, 0.999, "rampup_switch")]
    asked.clear()                              # load only: nothing is asked when a file is missing
    assert ladder.length_runs(base, [0, 1], tmp_path, train=False) is None and asked == []

    def results(errors):
        return [SimpleNamespace(config={"seed": s}, final={"ema_test_error": e}) for s, e in enumerate(errors)]

    # paper - decay 0 per seed: (1, 0, 1) at 3000 steps, (-1, -2, -2) at 9000 -> change (-2, -2, -3)
    runs = {("3000 steps", "decay 0"): results([30, 31, 32]), ("3000 steps", "paper"): results([31, 31, 33]),
            ("9000 steps", "decay 0"): results([28, 29, 30]), ("9000 steps", "paper"): results([27, 27, 28])}
    at_each, trend = ladder.length_trend(runs)
    assert [round(c.mean, 4) for c in at_each] == [0.6667, -1.6667]
    assert at_each[0].a == "paper (3000 steps)" and at_each[0].b == "decay 0 (3000 steps)"
    # mean -7/3, sd 0.5774, sem 1/3, t(0.975, 2) = 4.3027 -> [-3.768, -0.899]
    assert (round(trend.mean, 3), round(trend.low, 3), round(trend.high, 3)) == (-2.333, -3.768, -0.899)
    assert trend.a_lower and trend.n == 3
    # the same at 99 %: t(0.995, 2) = 9.9248 -> [-5.642, +0.975], not resolved
    wide = ladder.length_trend(runs, level=0.99)[1]
    assert (round(wide.low, 3), round(wide.high, 3), wide.resolved) == (-5.642, 0.975, False)
    # each rung, 9000 - 3000 per seed: decay 0 (-2, -2, -2), paper (-4, -4, -5)
    decay0, paper = ladder.length_changes(runs)
    assert (decay0.a, decay0.b) == ("decay 0 (9000 steps)", "decay 0 (3000 steps)")
    assert (decay0.mean, decay0.n) == (-2.0, 3) and decay0.low == decay0.high == -2.0
    assert round(paper.mean, 4) == -4.3333 and paper.a_lower


def test_plot_lengths_draws_each_rungs_ema_and_student_per_length():
    def result(steps, offset):
        history = [{"step": t, "ema_test_error": 30.0 - offset, "student_test_error": 31.0 - offset} for t in steps]
        return SimpleNamespace(series=lambda name: ([h["step"] for h in history], [h[name] for h in history]))

    runs = {("3000 steps", "decay 0"): [result([1000, 3000], 0)], ("3000 steps", "paper"): [result([1000, 3000], 1)],
            ("9000 steps", "decay 0"): [result([3000, 9000], 0)], ("9000 steps", "paper"): [result([3000, 9000], 1)]}
    fig = ladder.plot_lengths(runs)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["3000 steps", "9000 steps"]
    assert [len(ax.lines) for ax in axes] == [4, 4]
    assert list(axes[1].lines[0].get_xdata()) == [3000, 9000] and list(axes[1].lines[3].get_ydata()) == [30.0, 30.0]


def test_the_headline_weights_are_the_ones_the_committed_validation_runs_chose():
    """CPU_GRIDS["method_weights"] (what cpu-tables and the chapters train at) is read from the
    committed cpu-validation runs' validation error, recomputed here from their results files."""
    from pathlib import Path

    from mtlib.reproduce.presets import get_preset
    from mtlib.results import MATCHING, result_status
    from mtlib.scales import CPU_GRIDS

    folder = Path(__file__).resolve().parent.parent / "book" / "results" / "cpu"
    loaded = [result_status(folder, r.config) for r in get_preset("cpu-validation").runs()]
    assert all(status == MATCHING for status, _ in loaded), "a cpu-validation run is missing"
    assert validation.choose_weights([result for _, result in loaded]) == CPU_GRIDS["method_weights"]
    tables = {(r.config["method"], r.config["consistency_weight"]) for r in get_preset("cpu-tables").runs()}
    assert tables == {(m, CPU_GRIDS["method_weights"].get(m, 3.0)) for m in CPU_GRIDS["methods"]}


def test_the_points_beyond_the_grid_are_the_ones_the_committed_validation_runs_call_for():
    """CPU_GRIDS["validation_weights_extra"] is the edge rule (beyond_edges) applied to the committed
    cpu-validation runs' choice, and cpu-validation-beyond runs it for every method on the same seeds."""
    from mtlib.reproduce.presets import get_preset
    from mtlib.scales import CPU_GRIDS

    chosen = validation.choose_weights(_committed("cpu-validation"))
    assert validation.beyond_edges(chosen, CPU_GRIDS["validation_weights"], CPU_GRIDS["validation_beyond"]) \
        == CPU_GRIDS["validation_weights_extra"]
    beyond = {(r.config["method"], r.config["consistency_weight"], r.config["seed"], r.config["n_val"])
              for r in get_preset("cpu-validation-beyond").runs()}
    assert beyond == {(m, w, s, CPU_GRIDS["validation_n_val"]) for m in CPU_GRIDS["validation_methods"]
                      for w in CPU_GRIDS["validation_weights_extra"] for s in CPU_GRIDS["validation_seeds"]}


def test_the_points_beyond_the_grid_at_9000_steps_are_the_ones_the_committed_long_runs_call_for():
    """The same edge rule at 9,000 steps: CPU_GRIDS["validation_weights_long_extra"] from the committed
    cpu-validation-long runs' choice, run by cpu-validation-long-beyond for every method at 9,000 steps."""
    from mtlib.reproduce.presets import get_preset
    from mtlib.scales import CPU_GRIDS, LONG

    chosen = validation.choose_weights(_committed("cpu-validation-long"))
    assert validation.beyond_edges(chosen, CPU_GRIDS["validation_weights"], CPU_GRIDS["validation_beyond"]) \
        == CPU_GRIDS["validation_weights_long_extra"]
    beyond = {(r.config["method"], r.config["consistency_weight"], r.config["seed"], r.config["n_val"],
               r.config["steps"]) for r in get_preset("cpu-validation-long-beyond").runs()}
    assert beyond == {(m, w, s, CPU_GRIDS["validation_n_val"], LONG["steps"]) for m in CPU_GRIDS["validation_methods"]
                      for w in CPU_GRIDS["validation_weights_long_extra"] for s in CPU_GRIDS["validation_seeds"]}


def test_supervised_only_runs_the_dropout_beyond_its_grid_edge_at_each_length_its_choice_sits_on():
    """The edge rule for supervised-only's dropout: CPU_GRIDS["validation_dropouts_extra"] from the
    committed cpu-validation-supervised runs' choice at each length, run by cpu-validation-supervised-beyond
    at those lengths on the same seeds."""
    from mtlib.reproduce.presets import get_preset
    from mtlib.scales import CPU_GRIDS

    chosen = validation.choose_supervised(_committed("cpu-validation-supervised"))
    extra = {length: validation.beyond_edges({"supervised": d}, CPU_GRIDS["validation_dropouts"],
                                             CPU_GRIDS["validation_dropouts_beyond"]) for length, d in chosen.items()}
    assert {length for length, e in extra.items() if e} == set(chosen)       # both lengths sit on an edge
    assert all(e == CPU_GRIDS["validation_dropouts_extra"] for e in extra.values())
    beyond = {(r.config["dropout"], r.config["seed"], r.config["n_val"], f"{r.config['steps']} steps")
              for r in get_preset("cpu-validation-supervised-beyond").runs()}
    assert beyond == {(d, s, CPU_GRIDS["validation_n_val"], length) for length in chosen
                      for d in CPU_GRIDS["validation_dropouts_extra"] for s in CPU_GRIDS["validation_seeds"]}


def _committed(preset):
    from pathlib import Path

    from mtlib.reproduce.presets import get_preset
    from mtlib.results import MATCHING, result_status

    folder = Path(__file__).resolve().parent.parent / "book" / "results" / "cpu"
    loaded = [result_status(folder, r.config) for r in get_preset(preset).runs()]
    assert all(status == MATCHING for status, _ in loaded), f"a {preset} run is missing"
    return [result for _, result in loaded]


def test_the_long_scale_weights_are_the_ones_the_committed_long_validation_runs_chose():
    """CPU_GRIDS["method_weights_long"] (cpu-tables-long, cpu-confirm at 9,000 steps), once written,
    is what the committed cpu-validation-long runs choose."""
    from mtlib.scales import CPU_GRIDS
    if CPU_GRIDS["method_weights_long"] is None:
        pytest.skip('CPU_GRIDS["method_weights_long"] is not chosen yet (run cpu-validation-long)')
    runs = _committed("cpu-validation-long") + _committed("cpu-validation-long-beyond")   # the edge rule
    assert validation.choose_weights(runs) == CPU_GRIDS["method_weights_long"]


def test_supervised_dropouts_are_the_ones_the_committed_supervised_validation_runs_chose():
    from mtlib.scales import CPU_GRIDS, LENGTH_LONG, LENGTH_SHORT
    written = {LENGTH_SHORT: CPU_GRIDS["supervised_dropout"], LENGTH_LONG: CPU_GRIDS["supervised_dropout_long"]}
    if None in written.values():
        pytest.skip("CPU_GRIDS['supervised_dropout' / 'supervised_dropout_long'] not chosen yet "
                    "(run cpu-validation-supervised)")
    runs = _committed("cpu-validation-supervised") + _committed("cpu-validation-supervised-beyond")   # the edge rule
    assert validation.choose_supervised(runs) == written


def test_plot_validation_rings_the_chosen_weight_of_each_method():
    from types import SimpleNamespace

    def run(method, weight, seed, err):
        metric = "student_val_error" if method == "temporal_ensembling" else "ema_val_error"
        return SimpleNamespace(config=dict(method=method, consistency_weight=weight, seed=seed, n_val=100, steps=10),
                               final={metric: err})

    runs = [run("pi", w, s, e + s) for w, e in ((1.0, 30.0), (3.0, 28.0), (10.0, 33.0)) for s in (0, 1)] + \
           [run("temporal_ensembling", w, s, e) for w, e in ((1.0, 25.0), (3.0, 26.0), (10.0, 40.0)) for s in (0, 1)]
    ax = validation.plot_validation(runs)
    rings = [line for line in ax.lines if line.get_markerfacecolor() == "none"]
    assert sorted((float(r.get_xdata()[0]), float(r.get_ydata()[0])) for r in rings) == [(1.0, 25.0), (3.0, 28.5)]
    assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == 2


def test_plot_validation_of_a_dropout_grid_holding_0_is_linear_and_rings_the_choice():
    runs = [SimpleNamespace(config=dict(method="supervised", dropout=d, seed=s, n_val=100, steps=10),
                            final={"ema_val_error": e + s}) for d, e in ((0.0, 31.0), (0.25, 29.0), (0.5, 30.0)) for s in (0, 1)]
    ax = validation.plot_validation(runs, knob="dropout")
    rings = [line for line in ax.lines if line.get_markerfacecolor() == "none"]
    assert [(float(r.get_xdata()[0]), float(r.get_ydata()[0])) for r in rings] == [(0.25, 29.5)]
    assert ax.get_xscale() == "linear"


def test_edge_note_names_the_points_beyond_and_is_empty_without_them():
    assert validation.edge_note([]) == ""
    assert validation.edge_note([0.3]) == " A choice sat on the grid's edge, so every method also ran weight(s) [0.3]."
    assert validation.edge_note((0.0,), "dropout").endswith("also ran dropout(s) [0.0].")


def test_preset_results_reads_a_grid_and_its_beyond_points_as_one_and_counts_the_missing(tmp_path):
    from pathlib import Path

    from mtlib.reproduce.presets import get_preset, preset_results
    from mtlib.results import result_path

    names = ["cpu-validation-supervised", "cpu-validation-supervised-beyond"]
    runs = [r for name in names for r in get_preset(name).runs()]
    assert preset_results(names, tmp_path) == ([], 24 + 8) and len(runs) == 24 + 8
    committed = Path(__file__).resolve().parent.parent / "book" / "results" / "cpu"
    for r in runs[:3]:                                   # three committed runs of the grid
        result_path(tmp_path, r.config).write_bytes(result_path(committed, r.config).read_bytes())
    found, missing = preset_results(names, tmp_path)
    assert missing == 24 + 8 - 3
    assert [result_path(tmp_path, r.config) for r in found] == [result_path(tmp_path, r.config) for r in runs[:3]]


def test_check_book_values_compares_each_length_with_the_value_cpu_grids_holds_there(monkeypatch):
    from mtlib.scales import CPU_GRIDS

    def sup(d, s, e, steps):
        return SimpleNamespace(config=dict(method="supervised", dropout=d, seed=s, n_val=100, steps=steps),
                               final={"ema_val_error": e})
    runs = [sup(d, s, e, 9000) for d, e in ((0.0, 30.0), (0.25, 29.0)) for s in (0, 1)]
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout_long", 0.25)
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout", 0.0)           # the 3,000-step value: not in runs
    validation.check_book_values(runs, "dropout")
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout_long", 0.0)
    with pytest.raises(AssertionError, match=r"'9000 steps': \(0.25, 0.0\)"):
        validation.check_book_values(runs, "dropout")
    validation.check_book_values(runs, "dropout", check=False)
    weights = [SimpleNamespace(config=dict(method="pi", consistency_weight=w, seed=s, n_val=100, steps=9000),
                               final={"ema_val_error": e}) for w, e in ((1.0, 26.0), (3.0, 27.0)) for s in (0, 1)]
    monkeypatch.setitem(CPU_GRIDS, "method_weights_long", {"pi": 1.0})
    validation.check_book_values(weights, "consistency_weight")
    monkeypatch.setitem(CPU_GRIDS, "method_weights_long", {"pi": 3.0})
    with pytest.raises(AssertionError, match=r"'pi': \(1.0, 3.0\)"):
        validation.check_book_values(weights, "consistency_weight")
