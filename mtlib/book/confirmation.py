"""The claims of ``mtlib.book.claims`` read on the exploratory seeds and on the confirmatory ones, side by side.

The claims were written down before any confirmatory run (their file's git history is the record). A
claim's exploratory verdict reads the same arms on the seeds every earlier choice looked at
(``EXPLORE_SEEDS``, 0-7: "as predicted" or not), its confirmatory verdict the seeds fixed in advance
(``CONFIRM_SEEDS``: "confirmed" or not), each with the same 95 % paired interval (Tables 1-2, Sec. 3.4).
A side with an arm that lacks a seed says how many runs it waits for instead of a verdict.
"""
from mtlib.book.claims import CLAIMS, TARGET_ERROR, verdicts
from mtlib.scales import CPU_GRIDS

EXPLORE_SEEDS = tuple(CPU_GRIDS["seeds"])
AGREE = {("as predicted", "confirmed"): "agree", ("not as predicted", "not confirmed"): "agree",
         ("as predicted", "not confirmed"): "disagree", ("not as predicted", "confirmed"): "disagree"}


def _lacking(results, seeds, keys):
    """How many runs of ``seeds`` the arms ``keys`` ((length, arm) pairs) lack in ``results``."""
    return sum(len(set(seeds) - {r.config["seed"] for r in results.get(key, [])}) for key in keys)


def missing_runs(claim, results, seeds):
    """How many runs of ``seeds`` the two arms of ``claim`` lack in ``results`` ({(length, arm): [RunResult]})."""
    return _lacking(results, seeds, [(claim.length, claim.a), (claim.length, claim.b)])


def has_value(result, metric):
    """Whether a run holds a claim's number: a final metric, or the logged targets' accuracy
    (``claims.TARGET_ERROR``; runs made before the trainer logged it have none)."""
    if metric == TARGET_ERROR:
        from mtlib.book.targets import has_targets
        return has_targets(result)
    return result.final.get(metric) is not None


def unlogged_runs(claim, results, seeds):
    """How many runs of ``seeds`` in the two arms of ``claim`` lack the claim's metric (a target claim
    on runs made before the targets' accuracy was logged)."""
    return sum(not has_value(r, metric) for arm, metric in ((claim.a, claim.metric_a), (claim.b, claim.metric_b))
               for r in results.get((claim.length, arm), []) if r.config["seed"] in set(seeds))


def side_verdict(claim, results, seeds):
    """(Paired A − B, verdict) of ``claim`` on ``seeds``, or (None, what it waits for): "not run yet: n
    runs" where runs are missing, "not logged: n runs ..." where runs lack the claim's metric."""
    missing, unlogged = missing_runs(claim, results, seeds), unlogged_runs(claim, results, seeds)
    if missing:
        return None, f"not run yet: {missing} runs"
    if unlogged:
        return None, f"not logged: {unlogged} runs made before the targets' accuracy was logged"
    (_, paired, verdict), = verdicts(results, seeds, [claim])
    return paired, verdict


def _sides(explore, confirm, claim):
    return (("exploratory", explore, EXPLORE_SEEDS), ("confirmatory", confirm, claim.seeds))


def claim_rows(explore, confirm, claims=CLAIMS):
    """One dict per claim: its difference and length, then for the exploratory (``explore`` on
    EXPLORE_SEEDS) and the confirmatory side (``confirm`` on the claim's seeds) the paired mean with its
    interval and the verdict (or what the side waits for, :func:`side_verdict`), and whether the two
    verdicts agree. A pair computed in two precisions is refused (``stats.check_one_precision``)."""
    rows = []
    for claim in claims:
        row = {"claim": claim.id, "difference": difference(claim), "length": claim.length}
        for side, results, seeds in _sides(explore, confirm, claim):
            paired, verdict = side_verdict(claim, results, seeds)
            row[side] = "" if paired is None else f"{paired.mean:+.2f} [{paired.low:+.2f}, {paired.high:+.2f}]"
            row[f"{side} verdict"] = verdict
        row["the two"] = AGREE.get((row["exploratory verdict"], row["confirmatory verdict"]), "")
        rows.append(row)
    return rows


def difference(claim):
    """A reader's name of a claim's difference: "Mean Teacher − Π model, the targets' error"."""
    what = ", the targets' error" if claim.metric_a == TARGET_ERROR else ""
    return f"{arm_name(claim.a, claim.length)} − {arm_name(claim.b, claim.length)}{what}"


def claim_comparisons(explore, confirm, claims=CLAIMS):
    """``(labels, comparisons)`` for ``mtlib.book.plots.forest_plot``: every side of every claim whose
    runs are all made, the exploratory side first, labelled with the claim, its length and the seeds
    (every claim predicts A − B < 0: green is the predicted side)."""
    labels, comparisons = [], []
    for claim in claims:
        for side, results, seeds in _sides(explore, confirm, claim):
            paired, _ = side_verdict(claim, results, seeds)
            if paired is not None:
                labels.append(f"{difference(claim)}, {claim.length}; {side} seeds {min(seeds)}–{max(seeds)}")
                comparisons.append(paired)
    return labels, comparisons


def claim_frame(explore, confirm, claims=CLAIMS):
    """:func:`claim_rows` as a DataFrame indexed by claim id."""
    import pandas as pd

    return pd.DataFrame(claim_rows(explore, confirm, claims)).set_index("claim")


# the exploratory headline at 9,000 steps (cpu-tables-long): each semi-supervised method against
# supervised-only and Mean Teacher against the others, then Mean Teacher's own EMA (the paper's schedule
# there) against a constant 0.99, which separates the switch to 0.999 from the length
HEADLINE_PAIRS = [("pi", "supervised"), ("temporal_ensembling", "supervised"), ("mean_teacher", "supervised"),
                  ("mean_teacher", "pi"), ("mean_teacher", "temporal_ensembling"),
                  ("mean_teacher", "mean_teacher, decay 0.99")]


def arm_name(arm, length):
    """A reader's name of an arm of ``mtlib.reproduce.presets.arms`` ("mean_teacher, decay 0" ->
    "Mean Teacher, decay 0"; Mean Teacher's own EMA named where it is the paper's schedule)."""
    from mtlib.book.style import NAMES

    method, _, ema = arm.partition(", ")
    if method == "mean_teacher" and not ema and CPU_GRIDS["mean_teacher_ema"][length]:
        ema = "paper schedule"
    return NAMES.get(method, method) + (f", {ema}" if ema else "")


def missing_seeds(results, seeds, length):
    """How many runs of ``seeds`` the arms at ``length`` of ``results`` ({(length, arm): [RunResult]}) lack."""
    return _lacking(results, seeds, [key for key in results if key[0] == length])


def headline(results, length, pairs=HEADLINE_PAIRS):
    """[Paired A − B] of the final test error of each arm's reported model (the EMA model; Temporal
    Ensembling's raw network), paired by seed, for ``pairs`` of arms at ``length``."""
    from mtlib.book import stats

    return [stats.compare(results[length, a], results[length, b], arm_name(a, length), arm_name(b, length),
                          metric=None) for a, b in pairs]


def arm_table(results, length):
    """Rows: the arms at ``length``; columns: mean ± std of the final test error (%) of the reported
    model over the seeds, and the seeds."""
    import pandas as pd

    from mtlib.book import stats
    from mtlib.book.tables import fmt

    rows = [{"arm": arm_name(arm, length), "test error (%)": fmt(*stats.mean_std(stats.by_seed(runs, None).values())),
             "seeds": len(runs)} for (at, arm), runs in results.items() if at == length]
    return pd.DataFrame(rows).set_index("arm")


def tally(frame, side="confirmatory"):
    """A sentence counting the verdicts of one side of :func:`claim_frame`: how many claims hold, how
    many do not, how many wait for runs or lack a logged value."""
    verdicts = list(frame[f"{side} verdict"])
    holds = "confirmed" if side == "confirmatory" else "as predicted"
    waiting = sum(v.startswith(("not run yet", "not logged")) for v in verdicts)
    return (f"{side} seeds: {verdicts.count(holds)} of {len(verdicts)} claims {holds}, "
            f"{verdicts.count('not ' + holds)} not {holds}, {waiting} waiting for runs")


def holds_markdown(frame):
    """What holds at this scale, from the confirmatory side of :func:`claim_frame` only: a Markdown list
    of the confirmed claims, then those not confirmed, each with its interval on the confirmatory seeds
    (and a note where the exploratory verdict disagreed), then how many claims still wait for runs."""
    groups = {"confirmed": [], "not confirmed": [], "waiting": []}
    for claim_id, row in frame.iterrows():
        verdict = row["confirmatory verdict"]
        name = f"{row['difference']}, {row['length']}"
        if verdict in ("confirmed", "not confirmed"):
            seen = " (the exploratory seeds disagreed)" if row["the two"] == "disagree" else ""
            groups[verdict].append(f"* {name}: {row['confirmatory']}{seen}")
        else:
            groups["waiting"].append(f"{name} ({verdict})")
    parts = []
    if groups["confirmed"]:
        parts.append("**Confirmed** on seeds 100–107 (A − B, points, 95 % interval):\n" + "\n".join(groups["confirmed"]))
    if groups["not confirmed"]:
        parts.append("**Not confirmed** on seeds 100–107 (the interval does not exclude 0 on the predicted side, "
                     "or excludes it on the other):\n" + "\n".join(groups["not confirmed"]))
    if not groups["confirmed"] and not groups["not confirmed"]:
        parts.append("No claim has its confirmatory runs yet, so nothing is confirmed at this scale yet.")
    if groups["waiting"]:   # named one by one only while some claims already have their verdict
        named = "" if len(groups["waiting"]) == len(frame) else ": " + "; ".join(groups["waiting"])
        parts.append(f"{len(groups['waiting'])} of {len(frame)} claims wait for confirmatory runs "
                     f"(`python -m mtlib.reproduce run cpu-confirm`){named}.")
    return "\n\n".join(parts)


def verdicts_made(frame, column="confirmatory verdict"):
    """{claim id: confirmatory verdict} of the claims of :func:`claim_frame` (or of a frame whose
    ``column`` holds the verdicts) whose confirmatory runs are all made ("confirmed" or "not
    confirmed"; claims still waiting are left out)."""
    return {c: v for c, v in frame[column].items() if v in ("confirmed", "not confirmed")}


def disagreements(frame):
    """A sentence naming the claims of :func:`claim_frame` whose exploratory and confirmatory verdicts
    disagree (or saying there is none yet, and how many claims have both verdicts)."""
    both = frame[frame["the two"] != ""]
    differ = both[both["the two"] == "disagree"]
    if differ.empty:
        return f"The two seed sets disagree on no claim ({len(both)} of {len(frame)} claims have both verdicts)."
    named = "; ".join(f"{row['difference']}, {row['length']}: {row['exploratory verdict']} on seeds 0–7, "
                      f"{row['confirmatory verdict']} on seeds 100–107" for _, row in differ.iterrows())
    return f"The two seed sets disagree on {len(differ)} of the {len(both)} claims that have both verdicts: {named}."
