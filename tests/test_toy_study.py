"""mtlib.book.toy_study: the toy's summaries over seeds, its paired comparisons and the checks of the
confirmation-bias chapter's claims, on hand-made panel results (the fits themselves: tests/test_toy.py)."""
from types import SimpleNamespace

import pytest
import torch

from mtlib.book import toy, toy_study


def test_compare_gives_paired_per_seed_differences():
    fake = lambda **errs: {p: SimpleNamespace(test_error=e, target_error=None) for p, e in errs.items()}
    results = {0: fake(c=0.04, e=0.01), 1: fake(c=0.03, e=0.03), 2: fake(c=0.05, e=0.02)}
    cmp = toy_study.compare(results, "e", "c")
    assert cmp.seeds == [0, 1, 2] and cmp.diffs == pytest.approx([-0.03, 0.0, -0.03])
    assert cmp.n_lower == 2 and cmp.mean == pytest.approx(-0.02)
    assert cmp.std == pytest.approx(float(torch.tensor([-0.03, 0.0, -0.03]).std()))
    assert "lower on 2 of 3 seeds" in str(cmp)
    assert cmp.verdict == "not resolved" and "not resolved" in str(cmp)   # the interval includes 0
    clear = toy_study.compare({0: fake(c=0.04, e=0.01), 1: fake(c=0.05, e=0.01), 2: fake(c=0.045, e=0.01)}, "e", "c")
    assert clear.verdict == "(e) lower" and toy_study.compare({0: fake(c=0.04, e=0.01), 1: fake(c=0.05, e=0.01),
                                                         2: fake(c=0.045, e=0.01)}, "c", "e").verdict == "(e) lower"
    # paired t interval: mean -2 points, sem = std / sqrt(3), t(0.975, 2) = 4.3027
    half = 4.302653 * cmp.std / 3 ** 0.5
    assert cmp.interval == pytest.approx((-0.02 - half, -0.02 + half), abs=1e-6)
    assert f"95% interval [{100 * (-0.02 - half):+.2f}, {100 * (-0.02 + half):+.2f}]" in str(cmp)
    results[0]["e"].teacher_test_error = 0.05
    own = toy_study.compare({0: results[0]}, "e", "e", "test_error", "teacher_test_error")
    assert own.diffs == pytest.approx([-0.04]) and own.n_lower == 1 and own.std == 0.0
    assert own.interval is None and "no interval (one seed)" in str(own)
    with pytest.raises(ValueError, match="target_error"):
        toy_study.compare(results, "e", "c", "target_error")


def test_compare_all_covers_the_chapters_pairs():
    fake = {p: SimpleNamespace(test_error=0.01 * i, teacher_test_error=0.02, target_error=0.001 * i, boundary=0.1 * i,
                               labeled_fit=0.9) for i, p in enumerate(toy.PANELS)}
    got = toy_study.compare_all({0: fake, 1: fake})
    assert list(got) == list(toy_study.COMPARISONS)
    assert got["self-teacher - frozen, target"].diffs == pytest.approx([0.002, 0.002])   # (s) - (c): 0.004 - 0.002
    assert {c.a for c in got.values()} | {c.b for c in got.values()} <= set(toy.PANELS)


def test_error_summary_and_its_table_by_hand():
    ns = SimpleNamespace
    a = lambda err, bound: ns(test_error=err, teacher_test_error=None, target_error=None, boundary=bound,
                              teacher_boundary=None, labeled_fit=1.0, max_margin=0.5)
    e = lambda err, tch, tgt, bound, tbound, fit: ns(test_error=err, teacher_test_error=tch, target_error=tgt,
                                                     boundary=bound, teacher_boundary=tbound, labeled_fit=fit,
                                                     max_margin=0.4)
    results = {3: {"a": a(0.02, 0.0), "e": e(0.01, 0.02, 0.004, 0.5, 0.4, 0.9)},
               5: {"a": a(0.04, 0.1), "e": e(0.03, 0.04, 0.006, 0.6, 0.5, 1.0)}}
    assert toy_study.metric(results, "e", "boundary") == {3: 0.5, 5: 0.6}
    s = toy_study.error_summary(results)
    assert list(s) == ["a", "e"] and s["a"]["seeds"] == [3, 5]
    assert s["a"]["errors"] == pytest.approx([0.02, 0.04]) and s["a"]["mean"] == pytest.approx(0.03)
    assert s["a"]["std"] == pytest.approx(0.02 / 2 ** 0.5)   # sample std of two values: |difference| / sqrt(2)
    assert s["e"]["teacher_error"] == s["e"]["teacher_test_error"] == [0.02, 0.04]
    assert s["e"]["boundary"] == [0.5, 0.6] and s["a"]["teacher_boundary"] == [None, None]
    head, line_a, line_e = toy_study.format_summary(s).splitlines()
    assert head.split()[3:5] == ["3", "5"]
    assert line_a.startswith("(a) no regularisation") and "   2.0   4.0     3.00 +/- 1.41   +0.05" in line_a
    assert line_a.split()[-4:] == ["-", "-", "-", "1.000"]   # no teacher, no targets in (a)
    assert "   1.0   3.0     2.00 +/- 1.41   +0.55    3.00    +0.45     0.0050   0.950" in line_e
    one = toy_study.error_summary({3: results[3]})
    assert one["a"]["std"] == 0.0
    with pytest.raises(ValueError, match="name"):
        toy_study.metric(results, "e", "speed")


def _row(a=0.0, b=0.0, c=0.1, c_teacher=0.0, p=0.4, w_fit=0.5, p_fit=0.99, w_margin=0.05):
    ns = SimpleNamespace
    return {"a": ns(boundary=a), "b": ns(boundary=b), "c": ns(boundary=c, teacher_boundary=c_teacher),
            "p": ns(boundary=p, labeled_fit=p_fit), "w": ns(labeled_fit=w_fit, max_margin=w_margin)}


def test_seed_counts_count_the_seeds_where_each_statement_holds():
    # best boundary 0.59: seed 0 holds everything; seed 1: (a) at 0.3 is not 0.3 left of it, and (w) is not
    # flat; seed 2: (c) at 0.35 is nearer the best (0.24) than its teacher (0.35), and right of (p) at 0.3;
    # seed 3: (p) lets go of the labels too (0.55 < 0.6), and a margin of 0.1 is not below 0.1
    results = {0: _row(), 1: _row(a=0.3, w_margin=0.2), 2: _row(c=0.35, p=0.3), 3: _row(p_fit=0.55, w_margin=0.1)}
    got = toy_study.seed_counts(results, best=0.59)
    assert list(got) == list(toy_study.SEED_CLAIMS)
    assert list(got.values()) == [3, 3, 3, 3, 2]
    right_of_a = {"c right of (a)": lambda row, best: row["c"].boundary > row["a"].boundary}
    assert toy_study.seed_counts({0: _row(), 1: _row(c=-0.1)}, 0.59, right_of_a) == {"c right of (a)": 1}


def _pairs():
    fake = lambda **errs: {p: SimpleNamespace(test_error=e) for p, e in errs.items()}
    results = {0: fake(c=0.04, e=0.01), 1: fake(c=0.05, e=0.01), 2: fake(c=0.045, e=0.01)}
    # e - c: -3, -4, -3.5 points, interval below 0: "(e) lower"; c - c: all 0, "not resolved"
    return toy_study.compare_all(results, {"e - c": ("e", "c", "test_error"), "c - c": ("c", "c", "test_error")})


def test_check_claims_passes_when_every_claim_holds():
    cmp = _pairs()
    assert [c.verdict for c in cmp.values()] == ["(e) lower", "not resolved"]
    toy_study.check_claims(cmp, {"e - c": "(e) lower", "c - c": "not resolved"}, {"x": 3, "y": 2}, 3,
                           most_seeds=["y"], mean_above={"e - c": -0.04})


def test_check_claims_names_every_claim_that_fails():
    cmp = _pairs()
    with pytest.raises(AssertionError) as err:
        toy_study.check_claims(cmp, {"e - c": "not resolved", "c - c": "not resolved"}, {"x": 3, "y": 2, "z": 4}, 4,
                               most_seeds=["y", "z"], mean_above={"e - c": -0.03, "c - c": -0.01})
    lines = str(err.value).splitlines()
    assert lines[0] == "claims of the chapter that do not hold:"
    assert lines[1].startswith("e - c: the text says 'not resolved', the 95 % interval says '(e) lower' ((e) - (c)")
    assert lines[2] == "x: the text says it holds on every one of the 4 seeds, it holds on 3"
    assert lines[3] == "y: the text says it holds on more than half of the 4 seeds, it holds on 2"   # 2 of 4 is half
    assert lines[4] == "e - c: the text needs a mean above -0.03, it is -0.0350"
    assert len(lines) == 5   # z (4 of 4) and c - c (mean 0 > -0.01) hold


def test_check_claims_refuses_names_it_does_not_know():
    cmp, verdicts = _pairs(), {"e - c": "(e) lower", "c - c": "not resolved"}
    with pytest.raises(ValueError, match=r"expected= has no verdict for \['c - c'\]"):
        toy_study.check_claims(cmp, {"e - c": "(e) lower"}, {}, 3)
    with pytest.raises(ValueError, match=r"expected= names \['e - d'\]"):
        toy_study.check_claims(cmp, {**verdicts, "e - d": "(e) lower"}, {}, 3)
    with pytest.raises(ValueError, match=r"most_seeds= names \['flat'\]"):
        toy_study.check_claims(cmp, verdicts, {"x": 3}, 3, most_seeds=["flat"])
    with pytest.raises(ValueError, match=r"mean_above= names \['e - d'\]"):
        toy_study.check_claims(cmp, verdicts, {}, 3, mean_above={"e - d": 0.0})
