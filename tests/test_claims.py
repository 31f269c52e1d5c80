"""The pre-registered claims (mtlib.book.claims): their record, their seeds, their verdicts by hand."""
import pytest

from mtlib.book import claims
from mtlib.reproduce.presets import PRESETS, arms, get_preset
from mtlib.results import RunResult
from mtlib.scales import CPU_GRIDS, SMOKE

LENGTHS = ("3000 steps", "9000 steps")


def test_the_claims_are_the_registered_ones_with_stable_ids():
    ids = [c.id for c in claims.CLAIMS]
    per_length = ["pi-vs-supervised", "te-vs-supervised", "mt-vs-supervised", "mt-vs-pi", "mt-vs-te",
                  "paper-schedule-vs-decay0", "mt-vs-pi-targets"]
    assert ids == [f"{p}@{n}" for n in (3000, 9000) for p in per_length] and len(set(ids)) == 14
    by_id = {c.id: c for c in claims.CLAIMS}
    assert all(c.predicted == "a_lower" and c.level == 0.95 and c.length in LENGTHS for c in claims.CLAIMS)
    # each arm's metric is its table's model: EMA, Temporal Ensembling's raw network; targets: 100 - accuracy
    assert (by_id["te-vs-supervised@3000"].metric_a, by_id["te-vs-supervised@3000"].metric_b) == \
        ("student_test_error", "ema_test_error")
    assert (by_id["mt-vs-te@9000"].metric_a, by_id["mt-vs-te@9000"].metric_b) == ("ema_test_error", "student_test_error")
    assert by_id["mt-vs-pi-targets@9000"].metric_a == by_id["mt-vs-pi-targets@9000"].metric_b == claims.TARGET_ERROR
    from mtlib.training.methods import reported_metric
    for c in claims.CLAIMS:
        for arm, metric in ((c.a, c.metric_a), (c.b, c.metric_b)):
            if metric != claims.TARGET_ERROR:
                assert metric == reported_metric(arm.split(",")[0]), (c.id, arm)
    # at 9,000 steps Mean Teacher's own EMA is the paper's schedule; at 3,000 it is a separate arm
    assert by_id["paper-schedule-vs-decay0@3000"].a == "mean_teacher, paper schedule"
    assert by_id["paper-schedule-vs-decay0@9000"].a == "mean_teacher"


def test_the_confirmatory_seeds_are_100_to_107_and_only_presets_of_fixed_claims_use_them():
    assert claims.CONFIRM_SEEDS == tuple(range(100, 108))
    assert all(c.seeds == claims.CONFIRM_SEEDS for c in claims.CLAIMS)
    assert get_preset("cpu-confirm").seeds(100) == claims.CONFIRM_SEEDS
    used = {}
    for name, value in list(CPU_GRIDS.items()) + [(f"SMOKE {k}", v) for k, v in SMOKE.items()]:
        if name.endswith("seeds"):
            used[name] = set(value)
    # the presets whose runs test claims written down first: these (mtlib.book.claims) and the VAT
    # chapter's (mtlib.book.vat_claims, on the same seeds); no other preset or grid may touch them
    fixed = {"cpu-confirm", "cpu-vat", "cpu-vat-long"}
    for name, preset in PRESETS.items():
        if name not in fixed:
            used[name] = {s for n in preset.label_counts for s in preset.seeds(n)}
    overlap = {name: sorted(seeds & set(claims.CONFIRM_SEEDS)) for name, seeds in used.items()}
    assert not any(overlap.values()), overlap
    assert all(PRESETS[name].seeds(100) == claims.CONFIRM_SEEDS for name in fixed)
    assert "seeds" in used and "validation_seeds" in used and "cpu-tables-long" in used


def test_every_claim_reads_arms_that_cpu_confirm_runs(monkeypatch):
    monkeypatch.setitem(CPU_GRIDS, "method_weights_long", dict(pi=1.0, temporal_ensembling=3.0, mean_teacher=10.0))
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout", 0.5)
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout_long", 0.25)
    confirm = arms(get_preset("cpu-confirm"))
    assert all(len(runs) == 8 for runs in confirm.values())
    assert {(c.length, arm) for c in claims.CLAIMS for arm in (c.a, c.b)} <= set(confirm)


# ------------------------------------------------------------------------------ verdicts by hand
def result(seed, method, ema=None, raw=None, target=None, precision="fp32"):
    final = {"ema_test_error": ema, "student_test_error": raw if raw is not None else ema}
    history = [] if target is None else [{"step": 1, "train_target_accuracy": 10.0},
                                         {"step": 2, "train_target_accuracy": target}]
    return RunResult(config={"seed": seed, "method": method, "n_labels": 100}, final=final, history=history,
                     provenance={"precision": precision})


def made_up(seeds):
    """Per seed k (alt = k % 2), at both lengths: supervised 30; Π 29 - alt; TE raw 31 + alt but EMA 20
    (a trap for a claim that read TE's EMA); Mean Teacher Π ± 1 (+1 on even k); decay 0 = Mean Teacher
    + 0.5 at 9,000 steps; the paper schedule at 3,000 steps = decay 0; target errors MT 20, Π 25."""
    out = {}
    for length in LENGTHS:
        arms_ = {}
        for k, s in enumerate(seeds):
            alt = k % 2
            pi, mt = 29.0 - alt, 29.0 - alt + (1.0 if alt == 0 else -1.0)
            decay0 = mt + 0.5 if length == "9000 steps" else 28.0
            rows = {"supervised": result(s, "supervised", 30.0),
                    "pi": result(s, "pi", pi, target=75.0),
                    "temporal_ensembling": result(s, "temporal_ensembling", 20.0, raw=31.0 + alt),
                    "mean_teacher": result(s, "mean_teacher", mt, target=80.0),
                    "mean_teacher, decay 0": result(s, "mean_teacher", decay0)}
            if length == "3000 steps":
                rows["mean_teacher, paper schedule"] = result(s, "mean_teacher", 28.0)
            for arm, r in rows.items():
                arms_.setdefault((length, arm), []).append(r)
        out.update(arms_)
    return out


def test_verdicts_follow_the_interval_rule_on_each_arms_reported_model():
    got = {c.id: (p, v) for c, p, v in claims.verdicts(made_up(claims.CONFIRM_SEEDS))}
    expected = {"pi-vs-supervised": "confirmed", "te-vs-supervised": "not confirmed",   # raw 31-32 vs 30
                "mt-vs-supervised": "confirmed", "mt-vs-pi": "not confirmed", "mt-vs-te": "confirmed",
                "mt-vs-pi-targets": "confirmed"}
    for n in (3000, 9000):
        assert {k: got[f"{k}@{n}"][1] for k in expected} == expected
    assert got["paper-schedule-vs-decay0@3000"][1] == "not confirmed"     # 0 on every seed: [0, 0]
    assert got["paper-schedule-vs-decay0@9000"][1] == "confirmed"         # -0.5 on every seed
    # Π - supervised per seed: -1, -2, ... : mean -1.5, sd sqrt(2/7), t(0.975, 7) = 2.3646 -> [-1.9469, -1.0531]
    p = got["pi-vs-supervised@3000"][0]
    assert (round(p.mean, 4), round(p.low, 4), round(p.high, 4), p.n) == (-1.5, -1.9469, -1.0531, 8)
    # Mean Teacher - supervised: 0, -3, ... : mean -1.5, sd sqrt(18/7) -> [-2.8406, -0.1594]
    p = got["mt-vs-supervised@9000"][0]
    assert (round(p.mean, 4), round(p.low, 4), round(p.high, 4)) == (-1.5, -2.8406, -0.1594)
    # Mean Teacher - TE on TE's raw network: -1, -5, ... (on TE's EMA it would be +10, +7)
    assert got["mt-vs-te@3000"][0].mean == -3.0
    assert got["te-vs-supervised@3000"][0].b_lower                         # the other side: not confirmed
    assert got["mt-vs-pi-targets@3000"][0].mean == -5.0                    # the last row, not the first
    frame = claims.verdict_frame(made_up(claims.CONFIRM_SEEDS))
    assert frame.loc["mt-vs-te@9000", "verdict"] == "confirmed" and frame.loc["mt-vs-te@9000", "seeds"] == 8


def test_on_exploratory_seeds_the_verdict_never_reads_confirmed():
    got = {c.id: v for c, _, v in claims.verdicts(made_up(range(8)), seeds=range(8))}
    assert got["pi-vs-supervised@3000"] == "as predicted" and got["mt-vs-pi@9000"] == "not as predicted"
    assert not any("confirmed" in v for v in got.values())


def test_missing_seeds_duplicates_and_mixed_precisions_are_refused():
    results = made_up(claims.CONFIRM_SEEDS)
    results["9000 steps", "pi"] = results["9000 steps", "pi"][:-1]
    with pytest.raises(ValueError, match=r"claim pi-vs-supervised@9000: arm 'pi' at 9000 steps has no run of seeds \[107\]"):
        claims.verdicts(results)
    results = made_up(claims.CONFIRM_SEEDS)
    results["3000 steps", "supervised"].append(result(100, "supervised", 30.0))
    with pytest.raises(ValueError, match="two runs of seed 100"):
        claims.verdicts(results)
    results = made_up(claims.CONFIRM_SEEDS)
    results["3000 steps", "supervised"][0] = result(100, "supervised", 30.0, precision="bf16")
    with pytest.raises(ValueError, match="never crosses two precisions"):
        claims.verdicts(results)


def test_arm_results_load_cpu_confirms_files_into_the_claims_arms(monkeypatch, tmp_path):
    """End to end without training: made-up results files for every cpu-confirm run, loaded by arm,
    give the same verdicts as the made-up results themselves."""
    from mtlib.reproduce.presets import arm_results
    from mtlib.results import RESULTS_VERSION, result_path

    monkeypatch.setitem(CPU_GRIDS, "method_weights_long", dict(pi=1.0, temporal_ensembling=3.0, mean_teacher=10.0))
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout", 0.5)
    monkeypatch.setitem(CPU_GRIDS, "supervised_dropout_long", 0.25)
    confirm, fake = get_preset("cpu-confirm"), made_up(claims.CONFIRM_SEEDS)
    for key, runs in arms(confirm).items():
        for run, made in zip(runs, fake[key], strict=True):
            RunResult(config=run.config, final=made.final, history=made.history,
                      provenance={"results_version": RESULTS_VERSION, "precision": "fp32"}).save(
                result_path(tmp_path, run.config))
    loaded = arm_results(confirm, tmp_path)
    assert [v for _, _, v in claims.verdicts(loaded)] == [v for _, _, v in claims.verdicts(fake)]
    with pytest.raises(ValueError, match="preset='cpu-tables' has no arms"):
        arms(get_preset("cpu-tables"))
