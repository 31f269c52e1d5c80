"""The targets' accuracy read as paired errors (mtlib.book.targets), by hand on made-up histories."""
import pytest

from mtlib.book import targets
from mtlib.config import RunConfig
from mtlib.results import RunResult, result_path


def run(seed, target, student, method="mean_teacher"):
    """A run whose rows at steps 100, 200, 300 log the given target and student accuracies."""
    history = [{"step": s, targets.TARGET: t, targets.STUDENT: u} for s, t, u in zip((100, 200, 300), target, student)]
    return RunResult(config={"seed": seed, "method": method}, history=history)


def test_target_vs_student_at_the_end_and_in_a_window():
    runs = {"MT": [run(0, [50, 60, 70], [50, 58, 66]), run(1, [40, 50, 80], [40, 47, 78])]}
    end, = targets.target_vs_student(runs)
    # errors at the last row: target 30 / 20, student 34 / 22 -> differences -4, -2: mean -3
    assert (end.n, end.mean) == (2, pytest.approx(-3.0))
    window, = targets.target_vs_student(runs, window=(200, 300))
    # mean accuracy over steps 200-300: target 65 / 65, student 62 / 62.5 -> -3, -2.5
    assert window.mean == pytest.approx(-2.75)
    assert end.a == "MT: target"


def test_between_rungs_and_a_run_without_logging():
    runs = {"A": [run(0, [0, 0, 70], [0, 0, 0]), run(1, [0, 0, 72], [0, 0, 0])],
            "B": [run(0, [0, 0, 60], [0, 0, 0]), run(1, [0, 0, 66], [0, 0, 0])]}
    d = targets.between(runs, "A", "B")
    assert d.mean == pytest.approx(-8.0) and d.a == "A target"
    assert targets.has_targets(runs["A"][0])
    assert not targets.has_targets(RunResult(config={}, history=[{"step": 1, "ema_test_error": 3.0}]))


def test_logged_runs_loads_only_files_with_the_logging_and_lists_the_rest(tmp_path):
    cfgs = {"MT": [RunConfig(method="mean_teacher", seed=s, steps=10, rampdown_steps=0) for s in (0, 1, 2)]}
    old, new = tmp_path / "old", tmp_path / "new"
    logged = lambda cfg: RunResult(config=cfg.to_dict(), history=[{"step": 10, targets.TARGET: 60.0, targets.STUDENT: 55.0}],
                                   provenance={"results_version": 2})
    unlogged = lambda cfg: RunResult(config=cfg.to_dict(), history=[{"step": 10}], provenance={"results_version": 2})
    unlogged(cfgs["MT"][0]).save(result_path(old, cfgs["MT"][0].to_dict()))     # seed 0: old file only, no logging
    logged(cfgs["MT"][1]).save(result_path(new, cfgs["MT"][1].to_dict()))       # seed 1: logged, second folder
    found, missing = targets.logged_runs(cfgs, [old, new])
    assert [r.config["seed"] for r in found["MT"]] == [1]
    assert missing == ["MT, seed 0", "MT, seed 2"]


def test_rung_configs_leave_out_supervised():
    base = RunConfig(steps=10, rampdown_steps=0)
    cfgs = targets.rung_configs(base, [0, 1], [("sup", dict(method="supervised")), ("Π", dict(method="pi"))])
    assert list(cfgs) == ["Π"] and [c.seed for c in cfgs["Π"]] == [0, 1]


def test_plot_targets_draws_one_line_per_rung_on_each_panel():
    runs = {"A": [run(0, [50, 60, 70], [50, 58, 66]), run(1, [40, 50, 80], [40, 47, 78])], "empty": []}
    fig = targets.plot_targets(runs)
    left, right = fig.axes
    assert len(left.lines) == 1 and len(right.lines) == 2     # one rung; the zero line on the right
    assert list(right.lines[0].get_ydata()) == pytest.approx([0.0, 2.5, 3.0])


def test_step_comparisons_skip_rungs_without_two_common_seeds():
    runs = {"low": [run(0, [0, 0, 60], [0, 0, 0]), run(1, [0, 0, 62], [0, 0, 0])],
            "mid": [run(0, [0, 0, 70], [0, 0, 0]), run(1, [0, 0, 70], [0, 0, 0])],
            "top": [run(0, [0, 0, 75], [0, 0, 0])]}
    steps = targets.step_comparisons(runs)
    assert [(c.a, c.b) for c in steps] == [("mid target", "low target")]
    assert steps[0].mean == pytest.approx(-9.0)
    assert [c.a for c in targets.target_vs_student(runs)] == ["low: target", "mid: target"]
