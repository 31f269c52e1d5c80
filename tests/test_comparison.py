"""Method-vs-supervised helpers: one base config, same seeds, a mean +- std table."""
import pytest

from mtlib.book import comparison
from mtlib.config import RunConfig
from mtlib.results import RunResult


def fake(method, seed, ema, student):
    cfg = RunConfig(method=method, seed=seed, n_labels=1000).to_dict()
    return RunResult(config=cfg, final={"ema_test_error": ema, "student_test_error": student})


def test_run_methods_sets_method_and_seed_on_the_same_base(monkeypatch):
    seen = []
    monkeypatch.setattr(comparison, "run_grid", lambda cfgs, d, retrain: seen.extend(cfgs) or cfgs)
    base = RunConfig(steps=10, rampup_steps=0, rampdown_steps=0, n_labels=40)
    runs = comparison.run_methods(base, ["supervised", "pi"], [0, 1], "/nowhere")
    assert [(c.method, c.seed) for c in seen] == [("supervised", 0), ("supervised", 1), ("pi", 0), ("pi", 1)]
    assert all(c.replace(method="pi", seed=0) == base.replace(method="pi", seed=0) for c in seen)
    assert set(runs) == {"supervised", "pi"}
    with pytest.raises(ValueError, match="seeds is empty"):
        comparison.run_methods(base, ["pi"], [], "/nowhere")
    with pytest.raises(ValueError, match="base must be a RunConfig"):
        comparison.run_methods({}, ["pi"], [0], "/nowhere")


def test_final_error_table_mean_std_and_paper_column():
    runs = {"supervised": [fake("supervised", 0, 40.0, 42.0), fake("supervised", 1, 44.0, 46.0)],
            "temporal_ensembling": [fake("temporal_ensembling", 0, 30.0, 31.0)]}
    table = comparison.final_error_table(runs, "CPU scale")
    assert comparison.final_errors(runs["supervised"]) == [40.0, 44.0]
    assert table.loc["Supervised-only", "EMA test error (%), CPU scale"] == "42.00 ± 2.83"
    assert table.loc["Temporal Ensembling", "student test error (%), CPU scale"] == "31.00"
    paper_col = [c for c in table.columns if c.startswith("paper")][0]
    assert table.loc["Supervised-only", paper_col] == "46.43 ± 1.21"      # Table 2, 1000 labels
    assert table.loc["Temporal Ensembling", paper_col] == "—"              # not reported at 1000
    runs_100 = {m: [r.__class__(config={**r.config, "n_labels": 100}, final=r.final)] for m, (r, *_) in runs.items()}
    assert not [c for c in comparison.final_error_table(runs_100).columns if c.startswith("paper")]   # none at 100
    assert not [c for c in table.columns if "recalibrated" in c]                # no run has the evaluation
    recal = {"mean_teacher": [RunResult(config=r.config, final={**r.final, "ema_recal_test_error": v})
                              for r, v in ((fake("mean_teacher", 0, 30.0, 31.0), 27.0), (fake("mean_teacher", 1, 32.0, 33.0), 29.0))]}
    assert comparison.final_error_table(recal).loc["Mean Teacher", "EMA test error, recalibrated (%), ours"] == "28.00 ± 1.41"


def test_every_method_has_one_style():
    from mtlib.book import paper, plots, style
    from mtlib.training.methods import METHOD_CLASSES
    assert set(style.STYLES) == set(METHOD_CLASSES)
    assert comparison.NAMES is style.NAMES and plots.METHOD_LABELS is style.NAMES
    assert all(row in paper.TABLE2_CIFAR10 for row in paper.METHOD_ROWS.values() if row is not None)
    assert paper.paper_error("cifar10", "vat", 4000) is None     # VAT without EntMin has no paper row


def test_normalisation_comparison_pairs_each_method_across_norms_and_against_supervised(monkeypatch):
    from types import SimpleNamespace

    from mtlib.book import comparison
    from mtlib.book.chapter import chapter_config

    def fake_run_grid(configs, results_dir, retrain=False):
        # weight norm 2 points lower for every method; Mean Teacher 3 below supervised-only
        return [SimpleNamespace(config=c.to_dict(), final={"ema_test_error": 30.0 + 0.1 * c.seed
                                - 2.0 * (c.convnet_norm == "weightnorm") - 3.0 * (c.method == "mean_teacher")})
                for c in configs]

    monkeypatch.setattr(comparison, "run_grid", fake_run_grid)
    runs = comparison.normalisation_runs(chapter_config({}), ["supervised", "mean_teacher"], [0, 1, 2], "unused")
    assert set(runs) == {"batchnorm", "weightnorm"}
    assert {r.config["convnet_norm"] for r in runs["weightnorm"]["mean_teacher"]} == {"weightnorm"}
    got = {(c.a, c.b): round(c.mean, 6) for c in comparison.normalisation_comparisons(runs)}
    assert got == {("Supervised-only, weight norm", "Supervised-only, batch norm"): -2.0,
                   ("Mean Teacher, weight norm", "Mean Teacher, batch norm"): -2.0,
                   ("Mean Teacher, batch norm", "Supervised-only, batch norm"): -3.0,
                   ("Mean Teacher, weight norm", "Supervised-only, weight norm"): -3.0}


def test_evaluation_swing_averages_absolute_changes_after_a_step():
    from types import SimpleNamespace

    import pytest

    from mtlib.book.comparison import evaluation_swing

    rows = lambda errors: [{"step": 500 * (i + 1), "ema_test_error": e} for i, e in enumerate(errors)]
    a = SimpleNamespace(history=rows([60.0, 40.0, 30.0, 34.0, 31.0]))    # after step 1000: 30 -> 34 -> 31
    b = SimpleNamespace(history=rows([50.0, 45.0, 20.0, 21.0]))          # after step 1000: 20 -> 21
    assert evaluation_swing([a, b]) == pytest.approx((4 + 3 + 1) / 3)
    with pytest.raises(ValueError, match="no two evaluations"):
        evaluation_swing([b], after=1500)
