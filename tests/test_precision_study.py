"""bf16 - fp32 over paired runs (the appendix's study), by hand on generated results files."""
import pytest

from mtlib.book import precision_study
from mtlib.results import RunResult


def _save(folder, name, method, seed, error, precision):
    RunResult(config={"method": method, "seed": seed, "n_labels": 100, "dataset": "cifar10"},
              final={"ema_test_error": error}, provenance={"precision": precision}).save(folder / name)


def test_pairs_by_file_and_summary_by_hand(tmp_path):
    bf16, fp32 = tmp_path / "bf16", tmp_path / "fp32"
    for name, method, seed, e_bf16, e_fp32 in [("a.json", "pi", 0, 30.0, 29.0), ("b.json", "pi", 1, 28.0, 28.0),
                                              ("c.json", "pi", 2, 31.0, 30.0), ("d.json", "supervised", 0, 40.0, 41.0)]:
        _save(bf16, name, method, seed, e_bf16, "bf16")
        _save(fp32, name, method, seed, e_fp32, "fp32")
    _save(bf16, "only-bf16.json", "pi", 3, 50.0, "bf16")         # no fp32 twin yet: left out
    table = precision_study.pairs(bf16, fp32)
    assert table["file"].tolist() == ["a.json", "b.json", "c.json", "d.json"]
    assert table["bf16 - fp32"].tolist() == [1.0, 0.0, 1.0, -1.0]
    s = precision_study.summary(table)
    assert s.loc["pi", "pairs"] == 3 and s.loc["pi", "mean (points)"] == pytest.approx(2 / 3, abs=0.005)
    # pi: d = 1, 0, 1: sd 0.577, sem 0.333, t(0.975, 2) = 4.303 -> 0.667 +- 1.434
    assert s.loc["pi", "95% interval"] == "[-0.77, +2.10]"
    assert s.loc["all", "pairs"] == 4 and s.loc["all", "mean (points)"] == 0.25
    assert s.loc["supervised", "95% interval"] == "none (one pair)"


def test_pairs_refuse_files_in_the_wrong_precision(tmp_path):
    _save(tmp_path / "bf16", "a.json", "pi", 0, 30.0, "fp32")
    _save(tmp_path / "fp32", "a.json", "pi", 0, 30.0, "fp32")
    with pytest.raises(ValueError, match="a.json: expected a bf16 file"):
        precision_study.pairs(tmp_path / "bf16", tmp_path / "fp32")


def test_pairs_in_finds_twins_before_and_after_the_swap(tmp_path):
    cpu, reruns, moved = tmp_path / "cpu", tmp_path / "reruns", tmp_path / "research-bf16"
    # before: the bf16 original in cpu/, its fp32 twin in reruns/; an fp32-only file has no pair
    _save(cpu, "a.json", "pi", 0, 30.0, "bf16")
    _save(reruns, "a.json", "pi", 0, 29.5, "fp32")
    _save(cpu, "b.json", "mean_teacher", 0, 25.0, "fp32")
    _save(cpu, "c.json", "mean_teacher", 1, 26.0, "bf16")       # no twin yet
    before = precision_study.pairs_in([cpu, reruns, moved])
    assert before["file"].tolist() == ["a.json"] and before["bf16 - fp32"].tolist() == [0.5]
    # after: the original moved to research-bf16/, the rerun in cpu/: the same pair
    (cpu / "a.json").rename(tmp_path / "x.json")
    moved.mkdir()
    (tmp_path / "x.json").rename(moved / "a.json")
    (reruns / "a.json").rename(cpu / "a.json")
    after = precision_study.pairs_in([cpu, reruns, moved])
    assert after.to_dict("records") == before.to_dict("records")


def test_comparisons_per_method_and_overall_by_hand(tmp_path):
    for name, method, e_bf16, e_fp32 in [("a.json", "pi", 30.0, 29.0), ("b.json", "pi", 28.0, 28.0),
                                        ("c.json", "pi", 31.0, 30.0), ("d.json", "supervised", 40.0, 42.0)]:
        _save(tmp_path / "bf16", name, method, 0, e_bf16, "bf16")
        _save(tmp_path / "fp32", name, method, 0, e_fp32, "fp32")
    got = precision_study.comparisons(precision_study.pairs(tmp_path / "bf16", tmp_path / "fp32"))
    assert [(c.a, c.n) for c in got] == [("Π model: bf16", 3), ("Supervised-only: bf16", 1), ("all runs: bf16", 4)]
    assert got[0].mean == pytest.approx(2 / 3) and got[0].low == pytest.approx(-0.7676, abs=1e-3)
    assert got[1].mean == -2.0 and not got[1].resolved          # one pair: no interval
    assert got[2].mean == pytest.approx(0.0)                    # (1 + 0 + 1 - 2) / 4
