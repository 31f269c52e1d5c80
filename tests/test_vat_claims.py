"""The Mean Teacher + VAT chapter's claims (mtlib.book.vat_claims) and how vat_study reads them: on the
confirmatory seeds, each arm's reported model (VAT's network itself), verdicts by the interval rule."""
from types import SimpleNamespace

import pytest

from mtlib.book import vat_claims, vat_study
from mtlib.scales import CPU_GRIDS, CPU_SCALE, LONG
from mtlib.training.methods import reported_metric

SHORT = {k: CPU_SCALE[k] for k in LONG}


def test_vat_reports_its_network_itself_as_vat_tf_and_the_combinations_their_ema():
    assert reported_metric("vat") == "student_test_error"
    assert reported_metric("mean_teacher_vat") == "ema_test_error"


def test_the_claims_read_the_confirmatory_seeds_and_each_arms_reported_model():
    assert vat_claims.SEEDS == tuple(range(100, 108))
    assert not set(vat_claims.SEEDS) & set(CPU_GRIDS["validation_seeds"]) and not set(vat_claims.SEEDS) & set(CPU_GRIDS["seeds"])
    ids = [c.id for c in vat_claims.CLAIMS]
    assert len(ids) == len(set(ids)) == 6
    for c in vat_claims.CLAIMS:
        assert c.seeds == vat_claims.SEEDS and c.predicted == "a_lower" and c.level == 0.95
        assert c.length in vat_study.LENGTHS and c.a in vat_study.LABELS and c.b in vat_study.LABELS
        for arm, metric in ((c.a, c.metric_a), (c.b, c.metric_b)):
            assert metric == ("student_test_error" if arm == "vat" else "ema_test_error"), (c.id, arm)
            # every arm a claim reads is run at its length by the presets (vat_study.ARMS_AT, the baselines)
            assert arm in vat_study.ARMS_AT[c.length] + vat_study.BASELINES, (c.id, arm)


def run(arm, seed, error, steps=3000, student_error=None):
    method, _, target = arm.partition("/")
    length = SHORT if steps == 3000 else LONG
    config = {"method": method, "vat_target": target or "student", "seed": seed, **length}
    final = {"ema_test_error": error, "student_test_error": error if student_error is None else student_error}
    return SimpleNamespace(config=config, final=final, provenance={"precision": "fp32"})


def made_up(seeds=vat_claims.SEEDS):
    runs = []
    for i, s in enumerate(seeds):
        runs += [run("supervised", s, 30.0 + i), run("mean_teacher", s, 27.0 + i),
                 # VAT's EMA would be far below; its reported network is supervised-only - 1 - i%2
                 run("vat", s, 10.0, student_error=29.0 + i - i % 2),
                 run("mean_teacher_vat/student", s, 27.0 + i + (1 if i % 2 else -1)),     # -1, +1, ...: 0 on average
                 run("mean_teacher_vat/teacher", s, 26.5 + i),                             # -0.5 on every seed
                 run("mean_teacher", s, 25.0 + i, steps=9000), run("mean_teacher_vat/teacher", s, 25.0 + i, steps=9000)]
    return runs


def test_length_of_names_the_length_and_refuses_another():
    assert vat_study.length_of(run("vat", 100, 1.0)) == "3000 steps"
    assert vat_study.length_of(run("vat", 100, 1.0, steps=9000)) == "9000 steps"
    odd = run("vat", 100, 1.0)
    odd.config["steps"] = 6000
    with pytest.raises(ValueError, match="6000 steps is at none of the lengths"):
        vat_study.length_of(odd)
    assert vat_study.claim_results([odd, run("vat", 100, 1.0)]) == {("3000 steps", "vat"): [run("vat", 100, 1.0)]}


def test_verdicts_by_hand():
    frame = vat_study.claim_frame(made_up())
    assert dict(frame["verdict"]) == {
        "vat-vs-supervised@3000": "confirmed",         # -1, -2, -1, -2 ...: on VAT's network, not its EMA
        "mt-vat-a-vs-mt@3000": "not confirmed",       # -1, +1, ...: [-1.0, +1.0] around 0
        "mt-vat-b-vs-mt@3000": "confirmed",           # -0.5 on every seed
        "mt-vat-a-vs-vat@3000": "confirmed",          # (a) 27 + i ± 1 against VAT's 29 + i - i%2
        "mt-vat-b-vs-vat@3000": "confirmed",
        "mt-vat-b-vs-mt@9000": "not confirmed"}       # 0 on every seed
    # VAT - supervised per seed: -1, -2, -1, -2, ...: mean -1.5, sd sqrt(2/7), t(0.975, 7) = 2.3646
    assert frame.loc["vat-vs-supervised@3000", "A − B (points)"] == "-1.50 [-1.95, -1.05]"
    # (a) - Mean Teacher: -1, +1, ...: mean 0, sd sqrt(8/7) -> ± 2.3646 * sqrt(8/7) / sqrt(8) = ± 0.894
    assert frame.loc["mt-vat-a-vs-mt@3000", "A − B (points)"] == "+0.00 [-0.89, +0.89]"
    assert frame.loc["mt-vat-b-vs-mt@9000", "difference"] == "Mean Teacher + VAT (b) − Mean Teacher"
    labels, comparisons = vat_study.claim_comparisons(made_up())
    assert len(labels) == len(comparisons) == 6 and labels[0] == "VAT − supervised-only, 3000 steps"


def test_a_claim_without_all_its_runs_says_how_many_it_waits_for():
    runs = [r for r in made_up() if not (r.config["method"] == "mean_teacher_vat" and r.config["steps"] == 9000
                                          and r.config["seed"] >= 106)]
    frame = vat_study.claim_frame(runs)
    assert frame.loc["mt-vat-b-vs-mt@9000", "verdict"] == "not run yet: 2 runs"
    assert frame.loc["mt-vat-b-vs-mt@9000", "A − B (points)"] == ""
    assert frame.loc["mt-vat-b-vs-mt@3000", "verdict"] == "confirmed"
    assert len(vat_study.claim_comparisons(runs)[0]) == 5
    from mtlib.book.confirmation import verdicts_made
    made = verdicts_made(frame, column="verdict")
    assert len(made) == 5 and "mt-vat-b-vs-mt@9000" not in made and made["mt-vat-a-vs-mt@3000"] == "not confirmed"
    # exploratory seeds are not the claims' seeds: no verdict from them
    assert set(vat_study.claim_frame(made_up(range(8)))["verdict"]) == {"not run yet: 16 runs"}
