"""Figure 4 panels: which runs each point gets, and looking a point up (mtlib.book.ablations)."""
from types import SimpleNamespace

import pytest

from mtlib.book import ablations, stats
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
    # Holm over the family: weight 0 (p by hand from its t statistic) survives, the tied point does not
    family = [("(c)", 0.0, None), ("(d)", 0.0, None)]
    adjusted = ablations.check_holm(panels, base_runs, family, resolved=[("(d)", 0.0, None)])
    assert adjusted[("(d)", 0.0, None)] == pytest.approx(min(1.0, 2 * stats.p_value(rows[1][1])))
    assert "adjusted p = " in capsys.readouterr().out
    with pytest.raises(AssertionError, match="the text says Holm's rule resolves"):
        ablations.check_holm(panels, base_runs, family, resolved=[])


def test_the_collapse_question_pairs_supervised_only_at_the_same_point(monkeypatch):
    def fake_run_grid(configs, results_dir, retrain=False):
        # error by hand: Mean Teacher 25 at the base and 72 at the collapse point; seed adds its number
        return [SimpleNamespace(config=c.to_dict(), final={"ema_test_error": (72.0 if c.dropout == 0 and not c.flip
                                                                               else 25.0) + c.seed}) for c in configs]

    monkeypatch.setattr(ablations, "run_grid", fake_run_grid)
    grids = {n: v for n, v in CPU_GRIDS.items() if n.endswith("_grid")}
    base = chapter_config({}, method="mean_teacher", seed=0)
    panels = ablations.figure4_panels(base, grids, [0, 1, 2], "unused")
    base_runs = ablations.point_runs(panels[2], base.ema_decay)
    configs = ablations.collapse_configs(base, [0, 1, 2])
    assert [(c.method, c.seed, c.dropout, c.translate, c.flip) for c in configs] == \
        [("supervised", s, base.dropout, base.translate, base.flip) for s in (0, 1, 2)] + \
        [("supervised", s, 0.0, 0, False) for s in (0, 1, 2)]
    assert configs[0] == base.replace(method="supervised")        # the results chapter's supervised-only run
    # supervised-only by hand: 31 at the base, 40 at the collapse point (+ seed, + 0.5 on seed 1)
    sup = [SimpleNamespace(config=c.to_dict(), final={"ema_test_error": (40.0 if c.dropout == 0 else 31.0) + c.seed
                                                      + 0.5 * (c.seed == 1)}) for c in configs]
    arms = ablations.collapse_arms(panels, base_runs, sup)
    assert list(arms) == ["Mean Teacher, base", "Mean Teacher, no augmentation, no dropout",
                          "supervised-only, base", "supervised-only, no augmentation, no dropout"]
    assert [len(r) for r in arms.values()] == [3, 3, 3, 3]
    sup_c, mt_vs_sup_c, mt_vs_sup = ablations.collapse_comparisons(arms)
    assert (sup_c.mean, sup_c.n) == (pytest.approx(9.0), 3) and sup_c.low == pytest.approx(9.0)
    assert mt_vs_sup_c.mean == pytest.approx(32.0 - 0.5 / 3) and mt_vs_sup.mean == pytest.approx(-6.0 - 0.5 / 3)
    no_b = [dict(p, values=[0.5]) if p["title"].startswith("(b)") else p for p in panels]
    assert ablations.collapse_arms(no_b, base_runs, sup) is None
