"""The Mean Teacher + VAT chapter's runs at the CPU scale: its arms, ε validation and comparisons.

Three arms share VAT's settings (``vat_settings``: ξ from ``CPU_GRIDS["vat_xi"]``, one power iteration,
VAT weight 1, no entropy term) and differ in the method: ``vat`` alone, and Mean Teacher with the
student's own VAT cost (a) or with the student's noise chosen against the teacher (b)
(``mtlib.training.methods.vat``). The Mean Teacher arms keep Mean Teacher's validated consistency
weight (``CPU_GRIDS["method_weights"]``). ε is chosen per arm on validation error over
``CPU_GRIDS["vat_epsilons"]`` (``choose_epsilons``), then the three arms at their ε meet Mean Teacher
and supervised-only at their own validated values on paired seeds (``comparisons``). The presets
``cpu-vat-validation`` and ``cpu-vat`` (``mtlib.reproduce.presets``) run the same configs.
"""
import pandas as pd

from mtlib.book import stats, validation, vat_claims
from mtlib.scales import CPU_GRIDS, CPU_SCALE, LONG, LENGTH_LONG, LENGTH_SHORT, LENGTHS, NotChosenYet, chosen, chosen_knobs

# arm name (the key of CPU_GRIDS["vat_epsilon"]): its method and vat_target
ARMS = {"vat": dict(method="vat", vat_target="student"),
        "mean_teacher_vat/student": dict(method="mean_teacher_vat", vat_target="student"),
        "mean_teacher_vat/teacher": dict(method="mean_teacher_vat", vat_target="teacher")}
LABELS = {"vat": "VAT", "mean_teacher_vat/student": "Mean Teacher + VAT (a)",
          "mean_teacher_vat/teacher": "Mean Teacher + VAT (b)", "mean_teacher": "Mean Teacher",
          "supervised": "supervised-only"}
BASELINES = ("mean_teacher", "supervised")
# the arms run at each length. At 9,000 steps only (b), the combination the paper's sentence suggests:
# per training step (benchmarks/vat_step_cost.py: fp32, one thread, CPU scale) VAT costs 1.9, (a) 2.2
# and (b) 1.5 Mean Teacher steps, and every arm at both lengths would be about 18 CPU-hours on an AVX2
# core, against a budget of 12 for the whole chapter; the baselines at both lengths are cpu-confirm's runs
# on the same seeds (mtlib.book.vat_claims)
ARMS_AT = {LENGTH_SHORT: tuple(ARMS), LENGTH_LONG: ("mean_teacher_vat/teacher",)}


def vat_settings():
    """The VAT knobs every arm shares at the CPU scale (ε aside)."""
    return dict(vat_xi=CPU_GRIDS["vat_xi"], vat_power_iterations=1, vat_weight=1.0, vat_entmin_weight=0.0)


def arm_values(arm, epsilon, length=LENGTH_SHORT):
    """The RunConfig changes of ``arm`` at ``epsilon`` and ``length`` (``mtlib.scales.LENGTHS``); the Mean
    Teacher arms at Mean Teacher's weight validated for that length and its EMA there (the paper's
    schedule at 9,000 steps). ε is validated once, at 3,000 steps, for both lengths."""
    if arm not in ARMS:
        raise ValueError(f"arm={arm!r} is not one of {list(ARMS)}")
    teacher = {} if arm == "vat" else {**CPU_GRIDS["mean_teacher_ema"][length],
                                       **chosen_knobs("mean_teacher", length, needed_by=f"{arm} at {length}")}
    return {**LENGTHS[length], **ARMS[arm], **vat_settings(), "vat_epsilon": epsilon, **teacher}


def baseline_values(method, fallback=False, length=LENGTH_SHORT):
    """Mean Teacher's or supervised-only's changes at ``length``: its EMA there and the value validation
    chose for it (``mtlib.scales.chosen_knobs``; NotChosenYet while None, or with ``fallback`` the base's)."""
    ema = CPU_GRIDS["mean_teacher_ema"][length] if method == "mean_teacher" else {}
    try:
        return {"method": method, **LENGTHS[length], **ema,
                **chosen_knobs(method, length, needed_by=f"{method} in cpu-vat")}
    except NotChosenYet:
        if not fallback:
            raise
        return {"method": method, **LENGTHS[length], **ema}


def book_epsilons():
    """{arm: ε} chosen for the book's runs (``CPU_GRIDS["vat_epsilon"]``); NotChosenYet while None."""
    return chosen("vat_epsilon", needed_by="cpu-vat")


def arm_of(result):
    """The arm name of a run (its method for the baselines)."""
    c = result.config if hasattr(result, "config") else result
    if c["method"] == "mean_teacher_vat":
        return f"mean_teacher_vat/{c['vat_target']}"
    return c["method"]


def validation_configs(base, seeds, epsilons, n_val):
    """Every arm at every ε on every seed, ``n_val`` images held out."""
    return [base.replace(seed=s, n_val=n_val, **arm_values(arm, e)) for s in seeds for e in epsilons for arm in ARMS]


def comparison_configs(base, seeds, epsilons, fallback=False, length=LENGTH_SHORT):
    """The arms run at ``length`` (``ARMS_AT``) at their ε (``epsilons``: {arm: ε}) and the baselines, on
    every seed."""
    changes = [arm_values(arm, epsilons[arm], length) for arm in ARMS_AT[length]] + \
        [baseline_values(m, fallback, length) for m in BASELINES]
    return [base.replace(seed=s, **c) for s in seeds for c in changes]


def _by_arm(results):
    groups = {}
    for r in results:
        groups.setdefault(arm_of(r), []).append(r)
    return groups


def validation_table(results):
    """``mtlib.book.validation.validation_table`` with knob ``vat_epsilon``, one row per arm."""
    tables = [validation.validation_table(rs, knob="vat_epsilon").set_axis([LABELS[arm]], axis=0)
              for arm, rs in _by_arm(results).items()]
    return pd.concat(tables)


def choose_epsilons(results):
    """{arm: ε with the lowest mean final validation error} (``mtlib.book.validation.choose``)."""
    return {arm: validation.choose(rs, knob="vat_epsilon")[ARMS[arm]["method"]] for arm, rs in _by_arm(results).items()}


# (A, B) of each paired comparison: the arms against both baselines, then the arms among themselves
PAIRS = [(arm, base) for base in BASELINES for arm in ARMS] + [
    ("mean_teacher_vat/student", "vat"), ("mean_teacher_vat/teacher", "mean_teacher_vat/student")]


def comparisons(results, metric=None):
    """[stats.Paired] of ``PAIRS`` on the seeds both arms have (A − B, final ``metric``; None: the error
    of the model each arm reports, ``Method.reported_model``: VAT's network itself, the others' EMA)."""
    groups = _by_arm(results)
    return [stats.compare(groups[a], groups[b], LABELS[a], LABELS[b], metric=metric) for a, b in PAIRS
            if a in groups and b in groups]


def target_comparisons(results, window=None):
    """Better targets, a harder student input, or both? For each arm against Mean Teacher, paired by
    seed (``mtlib.book.targets``: errors of the logged training-mode predictions on the unlabeled
    images, at the last row or averaged over ``window``): its target's error − Mean Teacher's (VAT's
    target is the student's own prediction at its noisy input x + η, without r_adv; (a)'s and (b)'s the
    teacher's at x + η'), and its student's error on its own training input − Mean Teacher's (the
    adversarial pass at x + η + r_adv for VAT and (b): a harder input shows as a higher error; (a)'s
    logged pass is Mean Teacher's noisy one at x + η). Arms without the logging are left out."""
    from mtlib.book.targets import STUDENT, TARGET, errors, has_targets

    groups = {arm: [r for r in rs if has_targets(r)] for arm, rs in _by_arm(results).items()}
    if len(groups.get("mean_teacher", [])) < 2:
        return []
    out = []
    for arm in ARMS:
        if len(groups.get(arm, [])) >= 2:
            for column, what in ((TARGET, "target"), (STUDENT, "student")):
                out.append(stats.compare_values(groups[arm], groups["mean_teacher"], f"{LABELS[arm]}: {what}",
                                                f"Mean Teacher's {what}", lambda r, c=column: errors(r, c, window)))
    return out


def length_of(result):
    """The name of the length (``mtlib.scales.LENGTHS``) a run was trained at; ValueError for another."""
    c = result.config if hasattr(result, "config") else result
    for name, changes in LENGTHS.items():   # a length is the CPU scale's steps and ramps with its changes
        if all(c[k] == v for k, v in {**{k: CPU_SCALE[k] for k in LONG}, **changes}.items()):
            return name
    raise ValueError(f"a run of {c['steps']} steps is at none of the lengths {list(LENGTHS)}")


def claim_results(results):
    """{(length, arm): [RunResult]} of ``results`` (runs of both lengths together), as
    ``mtlib.book.claims.verdicts`` reads them; a run at neither length (another scale's) is not one of
    the claims' and is left out."""
    out = {}
    for r in results:
        try:
            key = length_of(r), arm_of(r)
        except ValueError:
            continue
        out.setdefault(key, []).append(r)
    return out


def claim_rows(results, claims=vat_claims.CLAIMS):
    """One dict per claim of ``mtlib.book.vat_claims``: its difference and length, the paired mean with
    its 95 % interval on the claim's seeds and the verdict ("confirmed" / "not confirmed"), or what it
    waits for ("not run yet: n runs"; ``mtlib.book.confirmation.side_verdict``)."""
    from mtlib.book.confirmation import side_verdict

    grouped, rows = claim_results(results), []
    for claim in claims:
        paired, verdict = side_verdict(claim, grouped, claim.seeds)
        rows.append({"claim": claim.id, "difference": f"{LABELS[claim.a]} − {LABELS[claim.b]}",
                     "length": claim.length, "seeds": f"{min(claim.seeds)}–{max(claim.seeds)}",
                     "A − B (points)": "" if paired is None else f"{paired.mean:+.2f} [{paired.low:+.2f}, {paired.high:+.2f}]",
                     "verdict": verdict})
    return rows


def claim_frame(results, claims=vat_claims.CLAIMS):
    """:func:`claim_rows` as a DataFrame indexed by claim id."""
    return pd.DataFrame(claim_rows(results, claims)).set_index("claim")


def claim_comparisons(results, claims=vat_claims.CLAIMS):
    """``(labels, [stats.Paired])`` of the claims whose runs are all made, for ``plots.forest_plot``."""
    from mtlib.book.confirmation import side_verdict

    grouped, labels, out = claim_results(results), [], []
    for claim in claims:
        paired, _ = side_verdict(claim, grouped, claim.seeds)
        if paired is not None:
            labels.append(f"{LABELS[claim.a]} − {LABELS[claim.b]}, {claim.length}")
            out.append(paired)
    return labels, out
