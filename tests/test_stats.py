"""Statistics over paired seeds: hand-computed t intervals and the interval rule for claims."""
import math

import pytest

from mtlib.book import stats


def test_t_interval_hand_computed():
    # values 1, 2, 3: mean 2, sd 1, sem 1/sqrt(3); t(0.975, 2 df) = 4.302652729911275
    mean, low, high = stats.t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))


def test_paired_uses_common_seeds_and_differences():
    a = {0: 10.0, 1: 12.0, 2: 11.0, 3: 99.0}
    b = {0: 11.0, 1: 14.0, 2: 14.0}                 # seed 3 has no partner: left out
    c = stats.paired(a, b, "MT", "supervised")
    assert c.n == 3 and c.mean == pytest.approx(-2.0)   # differences -1, -2, -3
    half = 4.302652729911275 * 1.0 / math.sqrt(3)
    assert (c.low, c.high) == pytest.approx((-2.0 - half, -2.0 + half))
    assert not c.resolved and "not resolved at this scale" in c.verdict()


def test_interval_rule_decides_the_claim():
    clear = stats.paired({s: 10.0 + 0.1 * s for s in range(8)}, {s: 12.0 + 0.12 * s for s in range(8)}, "MT", "sup")
    assert clear.a_lower and not clear.b_lower and clear.verdict().startswith("MT has lower error than sup")
    assert stats.check_claim(clear, "a_lower") == "a_lower"
    with pytest.raises(AssertionError, match="the text says 'unresolved' but the interval says 'a_lower'"):
        stats.check_claim(clear, "unresolved")
    flipped = stats.paired({s: 12.0 for s in range(4)}, {s: 10.0 + 0.01 * s for s in range(4)}, "A", "B")
    assert flipped.b_lower and flipped.verdict().startswith("B has lower error than A")


def test_too_few_seeds_and_mean_std():
    with pytest.raises(ValueError, match="at least 2 values; got 1"):
        stats.t_interval([1.0])
    assert stats.mean_std([]) == (None, None)
    assert stats.mean_std([3.0]) == (3.0, None)
    assert stats.mean_std([1.0, 3.0]) == pytest.approx((2.0, math.sqrt(2)))


def test_comparison_frame_pairs_methods_per_label_count():
    from types import SimpleNamespace as Run
    results = [Run(config={"method": m, "n_labels": n, "seed": s},
                   final={"ema_test_error": 20.0 + s + (1.5 if m == "a" else 0.0) + n / 100})
               for m in "ab" for n in (100, 400) for s in range(4)]
    table = stats.comparison_frame(results, [("a", "b")], {"a": "A", "b": "B"})
    assert list(table.index) == [(100, "A − B"), (400, "A − B")]
    assert list(table["mean (points)"]) == [1.5, 1.5] and list(table["seeds"]) == [4, 4]
    assert list(table["verdict"]) == ["B lower", "B lower"]


def test_comparisons_by_leaves_out_pairs_without_enough_common_seeds_when_asked():
    from types import SimpleNamespace as Run
    have = {("a", 50): [0, 1, 2], ("b", 50): [1, 2], ("c", 50): [], ("a", 8000): [0], ("b", 8000): [0]}
    results = [Run(config={"method": m, "n_labels": n, "seed": s}, final={"ema_test_error": 10.0 * s + ord(m)})
               for (m, n), seeds in have.items() for s in seeds]
    names = {"a": "A", "b": "B", "c": "C"}
    kept = stats.comparisons_by(results, [("a", "b"), ("a", "c")], names, min_seeds=2)
    assert list(kept) == [50] and [(c.a, c.b, c.n, c.mean) for c in kept[50]] == [("A", "B", 2, -1.0)]
    assert stats.comparisons_by(results, [("a", "b")], names, min_seeds=3) == {}
    with pytest.raises(ValueError, match="at least 2 values"):     # default: every pair, as before
        stats.comparisons_by(results, [("a", "c")], names)


def test_one_seed_resolves_nothing():
    c = stats.paired({0: 10.0}, {0: 30.0}, "A", "B")
    assert c.n == 1 and c.mean == -20.0 and not c.resolved
    assert "not resolved at this scale" in c.verdict()


def test_the_level_names_the_interval():
    diffs = {s: float(s) for s in range(4)}
    c95, c975 = stats.paired(diffs, {s: 0.0 for s in range(4)}), stats.paired(diffs, {s: 0.0 for s in range(4)}, level=0.975)
    assert "95% interval" in c95.verdict() and "97.5% interval" in c975.verdict()
    assert list(stats.frame([c975]).columns) == ["mean (points)", "97.5% interval", "seeds", "verdict"]
    assert c975.low < c95.low and c975.high > c95.high


def test_check_claims_checks_each_comparison_against_its_verdict():
    lower = stats.paired({s: 10.0 + 0.1 * s for s in range(4)}, {s: 12.0 for s in range(4)}, "A", "B")
    unresolved = stats.paired({0: 1.0, 1: -1.0, 2: 0.5}, {s: 0.0 for s in range(3)}, "C", "D")
    assert stats.check_claims([lower, unresolved], ["a_lower", "unresolved"]) == ["a_lower", "unresolved"]
    with pytest.raises(AssertionError, match="the text says 'unresolved' but the interval says 'a_lower'"):
        stats.check_claims([unresolved, lower], ["unresolved", "unresolved"])
    assert stats.check_claims([lower], ["b_lower"], check=False) == ["a_lower"]
    with pytest.raises(ValueError):                  # a verdict for each comparison, no more, no fewer
        stats.check_claims([lower, unresolved], ["a_lower"])


def test_pairing_refuses_two_precisions_and_names_both_files():
    from mtlib.book.stats import check_one_precision
    from mtlib.results import RunResult

    def run(method, seed, precision, name):
        return RunResult(config={"method": method, "seed": seed, "n_labels": 100}, final={"ema_test_error": 30.0},
                         provenance={"precision": precision, "loaded_from": f"/somewhere/{name}.json"})

    fp32 = [run("mean_teacher", s, "fp32", f"mt-seed{s}") for s in (0, 1)]
    pi_fp32 = [run("pi", s, "fp32", f"pi-seed{s}") for s in (0, 1)]
    check_one_precision(fp32, pi_fp32)                                   # one precision: fine
    check_one_precision(fp32, [run("pi", 5, "bf16", "pi-seed5")])        # no common seed: nothing paired
    mixed = [pi_fp32[0], run("pi", 1, "bf16", "pi-seed1")]
    with pytest.raises(ValueError, match=r"refusing to pair mt-seed1.json \(fp32\) with pi-seed1.json \(bf16\)"):
        check_one_precision(fp32, mixed)


def test_p_value_and_holm_by_hand():
    from scipy import stats as sps
    # d = 1, 2, 3 (n 3): mean 2, sem 1/sqrt(3) * 1 = 0.5774, t = 3.464, p = 2 * t.sf(3.464, 2) = 0.0742
    c = stats.paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert stats.p_value(c) == pytest.approx(2 * sps.t.sf(2 / (1 / math.sqrt(3)), 2), rel=1e-6)
    assert stats.p_value(c) == pytest.approx(0.0742, abs=1e-4)
    # Holm over p = 0.01, 0.04, 0.03 (m = 3), built as 8-seed intervals with exactly those p:
    # sorted 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, max(0.06, 0.04 * 1) = 0.06
    t_crit = sps.t.ppf(0.975, 7)
    def with_p(p):
        sem = 1.0 / sps.t.isf(p / 2, 7)
        return stats.Paired("a", "b", 8, 1.0, 1.0 - t_crit * sem, 1.0 + t_crit * sem)
    got = stats.holm([with_p(0.01), with_p(0.04), with_p(0.03)])
    assert [p for p, _ in got] == pytest.approx([0.03, 0.06, 0.06])
    assert [r for _, r in got] == [True, False, False]
    assert stats.holm([c]) == [(pytest.approx(stats.p_value(c)), False)]   # one comparison: the interval rule (p > 0.05)


def test_metric_none_pairs_each_method_on_the_model_it_reports():
    from types import SimpleNamespace as Run
    runs = [Run(config={"method": m, "seed": s}, final={"ema_test_error": 30.0 + s, "student_test_error": 20.0 + 2 * s})
            for m in ("temporal_ensembling", "mean_teacher") for s in (0, 1, 2)]
    te, mt = runs[:3], runs[3:]
    assert stats.by_seed(te, None) == {0: 20.0, 1: 22.0, 2: 24.0}       # TE: its raw network
    assert stats.by_seed(mt, None) == {0: 30.0, 1: 31.0, 2: 32.0}       # Mean Teacher: its EMA model
    c = stats.compare(mt, te, "MT", "TE", metric=None)
    assert c.mean == pytest.approx(9.0) and c.n == 3


def test_frame_shows_long_difference_names_whole():
    long_a = "Mean Teacher, paper schedule (0.99 then 0.999), target"
    c = stats.paired({0: 30.0, 1: 31.0, 2: 29.5}, {0: 31.0, 1: 31.5, 2: 30.0}, long_a, "its student")
    shown = stats.frame([c])
    assert f"{long_a} − its student" in shown.to_html() and f"{long_a} − its student" in repr(shown)


def test_compare_refuses_a_pair_of_two_precisions():
    from mtlib.results import RunResult

    def run(seed, precision, error):
        return RunResult(config={"method": "pi", "seed": seed}, final={"ema_test_error": error},
                         provenance={"precision": precision, "loaded_from": f"/x/pi-{seed}-{precision}.json"})

    a = [run(0, "fp32", 30.0), run(1, "fp32", 31.0)]
    assert stats.compare(a, [run(0, "fp32", 32.0), run(1, "fp32", 32.0)], "A", "B").mean == pytest.approx(-1.5)
    with pytest.raises(ValueError, match=r"pi-1-fp32.json \(fp32\) with pi-1-bf16.json \(bf16\)"):
        stats.compare(a, [run(0, "fp32", 32.0), run(1, "bf16", 32.0)], "A", "B")
