"""Figure 4 panels: which runs each point gets, and looking a point up (mtlib.book.ablations)."""
from types import SimpleNamespace

import pytest

from mtlib.book import ablations
from mtlib.book.chapter import chapter_config
from mtlib.scales import CPU_GRIDS


def test_panels_share_runs_and_point_runs_finds_each_point(monkeypatch):
    asked = []

    def fake_run_grid(configs, results_dir, retrain=False):
        asked.extend(configs)
        return [SimpleNamespace(config=c.to_dict(), final={"ema_test_error": 20.0 + c.seed}) for c in configs]

    monkeypatch.setattr(ablations, "run_grid", fake_run_grid)
    grids = {n: v for n, v in CPU_GRIDS.items() if n.endswith("_grid")}
    base = chapter_config({}, method="mean_teacher", seed=0)
    panels = ablations.figure4_panels(base, grids, [0, 1], "unused")
    assert len(asked) == 2 * 20                                # 20 distinct points per seed, each asked once
    by_title = {p["title"][:3]: p for p in panels}
    weight0 = ablations.point_runs(by_title["(d)"], 0.0)
    assert [r.config["seed"] for r in weight0] == [0, 1]
    assert all(r.config["consistency_weight"] == 0.0 and r.config["ema_decay"] == base.ema_decay for r in weight0)
    bare = ablations.point_runs(by_title["(b)"], 0.0, "augmentation off")
    assert all(r.config["dropout"] == 0.0 and r.config["translate"] == 0 and r.config["flip"] is False for r in bare)
    base_runs = ablations.point_runs(by_title["(c)"], base.ema_decay)
    assert base_runs == ablations.point_runs(by_title["(d)"], base.consistency_weight)   # the same runs
    assert ablations.point_runs(by_title["(d)"], 100.0) is None                         # not in this grid
    assert by_title["(e)"]["reference"] == (20.5, "one head (base)")                  # base mean over seeds


def test_check_points_applies_the_interval_rule_and_skips_points_outside_the_grid(monkeypatch, capsys):
    def fake_run_grid(configs, results_dir, retrain=False):
        # weight 0 is worse by 5 points (+0.1 per seed), everything else equals the base on each seed
        return [SimpleNamespace(config=c.to_dict(), final={"ema_test_error": 20.0 + c.seed + (
            5.0 + 0.1 * c.seed if c.consistency_weight == 0 else 0.0)}) for c in configs]

    monkeypatch.setattr(ablations, "run_grid", fake_run_grid)
    grids = {n: v for n, v in CPU_GRIDS.items() if n.endswith("_grid")}
    base = chapter_config({}, method="mean_teacher", seed=0)
    panels = ablations.figure4_panels(base, grids, [0, 1, 2], "unused")
    base_runs = ablations.point_runs(panels[2], base.ema_decay)
    expect = {("(d)", 0.0, None): "b_lower", ("(c)", 0.0, None): "unresolved", ("(d)", 100.0, None): "a_lower"}
    got = ablations.check_points(panels, base_runs, expect)
    assert got == {("(d)", 0.0, None): "b_lower", ("(c)", 0.0, None): "unresolved"}   # 100 is not in the grid
    out = capsys.readouterr().out
    assert "(d) consistency weight at 0 - base = +5.10 points" in out and "3 paired seeds" in out
    wrong = {("(d)", 0.0, None): "unresolved"}
    with pytest.raises(AssertionError, match="the text says 'unresolved' but the interval says 'b_lower'"):
        ablations.check_points(panels, base_runs, wrong)
    assert ablations.check_points(panels, base_runs, wrong, check=False) == {("(d)", 0.0, None): "b_lower"}
    # the forest plot's rows: the keys' order, points outside the grid left out, each "point - base"
    rows = ablations.point_comparisons(panels, base_runs, [("(c)", 0.0, None), ("(d)", 100.0, None), ("(d)", 0.0, None)])
    assert [k for k, _ in rows] == [("(c)", 0.0, None), ("(d)", 0.0, None)]
    assert rows[1][1].b == "base" and rows[1][1].mean == pytest.approx(5.1) and rows[0][1].mean == 0.0
