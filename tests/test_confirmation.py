"""Each claim on the exploratory and on the confirmatory seeds, side by side (mtlib.book.confirmation)."""
import pytest

from mtlib.book import claims, confirmation
from tests.test_claims import made_up, result


def test_both_sides_read_the_same_claims_and_say_whether_they_agree():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    rows = {r["claim"]: r for r in confirmation.claim_rows(explore, confirm)}
    assert list(rows) == [c.id for c in claims.CLAIMS]
    pi = rows["pi-vs-supervised@3000"]       # -1, -2, ... on both seed sets (made_up's values are per position)
    assert (pi["exploratory"], pi["exploratory verdict"]) == ("-1.50 [-1.95, -1.05]", "as predicted")
    assert (pi["confirmatory"], pi["confirmatory verdict"], pi["the two"]) == ("-1.50 [-1.95, -1.05]", "confirmed", "agree")
    assert rows["mt-vs-pi@9000"]["the two"] == "agree"                       # not as predicted / not confirmed
    assert rows["mt-vs-pi@9000"]["confirmatory verdict"] == "not confirmed"
    assert confirmation.claim_frame(explore, confirm).loc["mt-vs-te@3000", "confirmatory verdict"] == "confirmed"


def test_a_side_with_missing_runs_waits_and_a_disagreement_is_named():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    confirm["9000 steps", "pi"] = confirm["9000 steps", "pi"][:-2]        # two runs of the Π model missing
    del confirm["3000 steps", "supervised"]                                 # no supervised-only run at 3,000
    # the exploratory Π model worse than supervised-only at 3,000 steps: not as predicted there
    explore["3000 steps", "pi"] = [result(s, "pi", 31.0 + s % 2, target=75.0) for s in range(8)]
    rows = {r["claim"]: r for r in confirmation.claim_rows(explore, confirm)}
    assert rows["pi-vs-supervised@9000"]["confirmatory verdict"] == "not run yet: 2 runs"
    assert rows["mt-vs-pi@9000"]["confirmatory"] == "" and rows["mt-vs-pi@9000"]["the two"] == ""
    assert rows["pi-vs-supervised@3000"]["confirmatory verdict"] == "not run yet: 8 runs"
    assert rows["pi-vs-supervised@3000"]["exploratory verdict"] == "not as predicted"
    confirm = made_up(claims.CONFIRM_SEEDS)
    rows = {r["claim"]: r for r in confirmation.claim_rows(explore, confirm)}
    assert rows["pi-vs-supervised@3000"]["the two"] == "disagree"


def test_mixed_precisions_are_refused_not_hidden_as_missing():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    confirm["3000 steps", "supervised"][0] = result(100, "supervised", 30.0, precision="bf16")
    with pytest.raises(ValueError, match="never crosses two precisions"):
        confirmation.claim_rows(explore, confirm)


def test_the_9000_step_headline_pairs_each_arm_by_seed_on_its_reported_model():
    runs = made_up(range(8))
    long = "9000 steps"
    mt = {r.config["seed"]: r.final["ema_test_error"] for r in runs[long, "mean_teacher"]}   # 30 even, 27 odd seeds
    runs[long, "mean_teacher, decay 0.99"] = [result(s, "mean_teacher", mt[s] + 2.0) for s in range(8)]
    got = {f"{c.a} − {c.b}": c for c in confirmation.headline(runs, long)}
    assert list(got) == ["Π model − Supervised-only", "Temporal Ensembling − Supervised-only",
                         "Mean Teacher, paper schedule − Supervised-only", "Mean Teacher, paper schedule − Π model",
                         "Mean Teacher, paper schedule − Temporal Ensembling",
                         "Mean Teacher, paper schedule − Mean Teacher, decay 0.99"]
    # Temporal Ensembling's raw network (31 / 32), not its EMA (20): differences -1 / -5 by seed
    te = got["Mean Teacher, paper schedule − Temporal Ensembling"]
    assert te.mean == pytest.approx(-3.0) and (round(te.low, 2), round(te.high, 2)) == (-4.79, -1.21) and te.a_lower
    const = got["Mean Teacher, paper schedule − Mean Teacher, decay 0.99"]
    assert const.mean == pytest.approx(-2.0) and const.n == 8
    table = confirmation.arm_table(runs, long)
    assert table.loc["Temporal Ensembling", "test error (%)"] == "31.50 ± 0.53"
    assert table.loc["Mean Teacher, decay 0.99", "seeds"] == 8 and "Mean Teacher, decay 0" in table.index
    assert confirmation.missing_seeds(runs, range(8), long) == 0
    runs[long, "pi"] = runs[long, "pi"][:5]
    assert confirmation.missing_seeds(runs, range(8), long) == 3 and confirmation.missing_seeds(runs, range(8), "x") == 0
    assert confirmation.arm_name("mean_teacher", "3000 steps") == "Mean Teacher"   # its own EMA there: constant 0.99


def test_a_target_claim_on_runs_without_the_logged_targets_says_so_instead_of_a_verdict():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    # seeds 4-7 of the exploratory Π model at 3,000 steps from before the targets' accuracy was logged
    explore["3000 steps", "pi"] = [result(s, "pi", 29.0 - s % 2, target=None if s >= 4 else 75.0) for s in range(8)]
    rows = {r["claim"]: r for r in confirmation.claim_rows(explore, confirm)}
    target = rows["mt-vs-pi-targets@3000"]
    assert target["exploratory verdict"] == "not logged: 4 runs made before the targets' accuracy was logged"
    assert target["exploratory"] == "" and target["the two"] == "" and target["confirmatory verdict"] == "confirmed"
    assert rows["mt-vs-pi@3000"]["exploratory verdict"] in ("as predicted", "not as predicted")   # test error is there
    assert confirmation.has_value(explore["3000 steps", "pi"][0], claims.TARGET_ERROR)
    assert not confirmation.has_value(explore["3000 steps", "pi"][7], claims.TARGET_ERROR)
    assert confirmation.has_value(explore["3000 steps", "pi"][7], "ema_test_error")


def test_tally_counts_each_side_of_the_claim_frame():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    confirm["9000 steps", "pi"] = confirm["9000 steps", "pi"][:-2]      # three claims at 9,000 read the Π model
    frame = confirmation.claim_frame(explore, confirm)
    verdicts = list(frame["confirmatory verdict"])
    n_conf, n_not = verdicts.count("confirmed"), verdicts.count("not confirmed")
    assert n_conf + n_not == 14 - 3 and n_conf > 0 and n_not > 0
    assert confirmation.tally(frame) == (f"confirmatory seeds: {n_conf} of 14 claims confirmed, "
                                         f"{n_not} not confirmed, 3 waiting for runs")
    assert confirmation.tally(frame, "exploratory").startswith("exploratory seeds: ") and \
        confirmation.tally(frame, "exploratory").endswith("0 waiting for runs")


def test_claim_rows_name_the_arms_as_a_reader_does():
    rows = {r["claim"]: r for r in confirmation.claim_rows(made_up(range(8)), made_up(claims.CONFIRM_SEEDS))}
    assert rows["mt-vs-te@3000"]["difference"] == "Mean Teacher − Temporal Ensembling"
    assert rows["paper-schedule-vs-decay0@9000"]["difference"] == "Mean Teacher, paper schedule − Mean Teacher, decay 0"
    assert rows["paper-schedule-vs-decay0@3000"]["difference"] == "Mean Teacher, paper schedule − Mean Teacher, decay 0"
    assert rows["mt-vs-pi-targets@9000"]["difference"] == "Mean Teacher, paper schedule − Π model, the targets' error"


def test_claim_comparisons_draw_each_made_side_with_its_seeds():
    """The forest plot's rows: every side whose runs are all made, exploratory first, labelled with the
    claim's difference, its length and the seeds; a side that waits for runs has no row."""
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    del confirm["3000 steps", "supervised"]
    labels, comparisons = confirmation.claim_comparisons(explore, confirm)
    assert len(labels) == len(comparisons) == 2 * len(claims.CLAIMS) - 3   # 3 claims read supervised at 3,000
    first = comparisons[labels.index("Π model − Supervised-only, 3000 steps; exploratory seeds 0–7")]
    assert (first.mean, first.n) == (-1.5, 8)
    assert "Π model − Supervised-only, 3000 steps; confirmatory seeds 100–107" not in labels
    assert "Π model − Supervised-only, 9000 steps; confirmatory seeds 100–107" in labels
    assert "Mean Teacher − Π model, the targets' error, 3000 steps; exploratory seeds 0–7" in labels


def test_what_holds_is_built_from_the_confirmatory_side_only():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    confirm["9000 steps", "pi"] = confirm["9000 steps", "pi"][:-2]      # three claims at 9,000 read the Π model
    # the exploratory side of one claim turned around: the text must still follow the confirmatory one
    explore["3000 steps", "pi"] = [result(s, "pi", 31.0 + s % 2, target=75.0) for s in range(8)]
    frame = confirmation.claim_frame(explore, confirm)
    text = confirmation.holds_markdown(frame)
    confirmed, rest = text.split("**Not confirmed**")
    assert "* Π model − Supervised-only, 3000 steps: -1.50 [-1.95, -1.05] (the exploratory seeds disagreed)" in confirmed
    assert "Mean Teacher, paper schedule − Π model, 9000 steps:" not in confirmed + rest.split("wait for")[0]
    assert "3 of 14 claims wait for confirmatory runs" in rest and "Mean Teacher, paper schedule − Π model, 9000 steps (not run yet: 2 runs)" in rest
    n_listed = text.count("\n* ")
    assert n_listed == 14 - 3 == list(frame["confirmatory verdict"]).count("confirmed") + \
        list(frame["confirmatory verdict"]).count("not confirmed")
    nothing = confirmation.holds_markdown(confirmation.claim_frame(explore, {}))
    assert nothing.startswith("No claim has its confirmatory runs yet") and nothing.endswith(
        "14 of 14 claims wait for confirmatory runs (`python -m mtlib.reproduce run cpu-confirm`).")


def test_disagreements_are_named_with_both_verdicts():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    assert confirmation.disagreements(confirmation.claim_frame(explore, {})) == \
        "The two seed sets disagree on no claim (0 of 14 claims have both verdicts)."
    explore["3000 steps", "pi"] = [result(s, "pi", 31.0 + s % 2, target=75.0) for s in range(8)]
    text = confirmation.disagreements(confirmation.claim_frame(explore, confirm))
    # a worse exploratory Π model turns two claims around there: Π − supervised-only and Mean Teacher − Π
    assert text.startswith("The two seed sets disagree on 2 of the 14 claims that have both verdicts: ")
    assert "Π model − Supervised-only, 3000 steps: not as predicted on seeds 0–7, confirmed on seeds 100–107; " in text
    assert text.endswith("Mean Teacher − Π model, 3000 steps: as predicted on seeds 0–7, not confirmed on seeds 100–107.")


def test_verdicts_made_leave_out_the_claims_still_waiting():
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    confirm["9000 steps", "pi"] = confirm["9000 steps", "pi"][:-1]      # three 9,000-step claims read the Π model
    made = confirmation.verdicts_made(confirmation.claim_frame(explore, confirm))
    assert len(made) == 14 - 3 and "mt-vs-pi@9000" not in made and "pi-vs-supervised@9000" not in made
    assert made["pi-vs-supervised@3000"] == made["mt-vs-te@3000"] == "confirmed"
    explore, confirm = made_up(range(8)), made_up(claims.CONFIRM_SEEDS)
    assert confirmation.verdicts_made(confirmation.claim_frame(explore, confirm))["mt-vs-pi@9000"] == "not confirmed"
    assert confirmation.verdicts_made(confirmation.claim_frame(explore, {})) == {}
