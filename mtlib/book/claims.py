"""The claims the confirmatory runs test, written down before any of them ran (a pre-registration).

Each claim is a paired difference A − B of one metric at one length of the CPU scale
(``mtlib.scales.LENGTHS``), in the direction the paper predicts: the semi-supervised method (Mean
Teacher, the paper's EMA schedule, Mean Teacher's targets) has the lower error.

* Arms: a method at the value validated for it at that length (``mtlib.scales.chosen_knobs``), its
  runs being ``cpu-confirm``'s (``mtlib.reproduce.presets.arms``). "mean_teacher" is Mean Teacher
  with its own EMA at that length (``CPU_GRIDS["mean_teacher_ema"]``: constant 0.99 at 3,000 steps,
  the paper's schedule at 9,000); "mean_teacher, decay 0" / "mean_teacher, paper schedule" are the
  same runs at another EMA.
* Metric: the final test error of the model each arm's table reports (``Method.reported_model``):
  the EMA model for every method except Temporal Ensembling, whose raw network ("student") is what
  Laine & Aila report; a target claim reads 100 − ``train_target_accuracy`` at the last history row
  (``TARGET_ERROR``; ``mtlib.book.targets.errors``).
* Rule (``mtlib.book.stats``): the 95 % paired Student t interval over the seeds. On the
  confirmatory seeds a claim is "confirmed" when the interval excludes 0 on the predicted side
  (A − B < 0), "not confirmed" otherwise. On any other seeds (the exploratory 0–7) the same rule
  reads "as predicted" / "not as predicted", never "confirmed". Each claim is tested at its own
  95 % level, without a correction for their number: a report gives how many of the 14 hold.
* Seeds: ``CONFIRM_SEEDS`` (100–107), disjoint from every seed the exploration used (a test says so).

Change the claims only before the first confirmatory run: ``git log mtlib/book/claims.py`` is the
record that they came first.
"""
from dataclasses import dataclass

CONFIRM_SEEDS = (100, 101, 102, 103, 104, 105, 106, 107)
TARGET_ERROR = "target_error"      # 100 - train_target_accuracy at the last history row
LEVEL = 0.95


@dataclass(frozen=True)
class Claim:
    """A − B < 0 predicted for ``metric_a`` of arm ``a`` against ``metric_b`` of arm ``b`` at ``length``."""

    id: str
    a: str
    b: str
    length: str
    metric_a: str
    metric_b: str
    source: str
    predicted: str = "a_lower"
    seeds: tuple = CONFIRM_SEEDS
    level: float = LEVEL


EMA, RAW = "ema_test_error", "student_test_error"
# (id, A, B, metric of A, metric of B, where the paper predicts it); at 9,000 steps Mean Teacher's own
# EMA is the paper's schedule, so "paper schedule - decay 0" reads the arm "mean_teacher" there
_PAIRS = [
    ("pi-vs-supervised", "pi", "supervised", EMA, EMA, "Tables 1-2: the Π model below supervised-only at every label count"),
    ("te-vs-supervised", "temporal_ensembling", "supervised", RAW, EMA,
     "Table 2 (Laine & Aila's Temporal Ensembling row) below supervised-only"),
    ("mt-vs-supervised", "mean_teacher", "supervised", EMA, EMA, "Tables 1-2: Mean Teacher below supervised-only"),
    ("mt-vs-pi", "mean_teacher", "pi", EMA, EMA, "Tables 1-2: Mean Teacher below the Π model at every label count"),
    ("mt-vs-te", "mean_teacher", "temporal_ensembling", EMA, RAW,
     "Table 1, SVHN 500 and 1000 labels: Mean Teacher below Laine & Aila's Temporal Ensembling (at CIFAR-10 "
     "4000 labels the paper's Mean Teacher is above theirs: the prediction is the few-label one; the numbers "
     "are in mtlib.book.paper)"),
    ("paper-schedule-vs-decay0", {"3000 steps": "mean_teacher, paper schedule", "9000 steps": "mean_teacher"},
     "mean_teacher, decay 0", EMA, EMA,
     "Sec. 3.4 and Fig. 4(c): the paper's 0.99 -> 0.999 schedule below decay 0 (no averaging)"),
    ("mt-vs-pi-targets", "mean_teacher", "pi", TARGET_ERROR, TARGET_ERROR,
     "Sec. 1-2, Fig. 1: the averaged teacher's targets are more often right than a second noisy pass of the student"),
]
CLAIMS = tuple(Claim(id=f"{pid}@{length.split()[0]}", a=a[length] if isinstance(a, dict) else a, b=b,
                     length=length, metric_a=ma, metric_b=mb, source=source)
               for length in ("3000 steps", "9000 steps") for pid, a, b, ma, mb, source in _PAIRS)


def value(result, metric):
    """A run's number for a claim: ``final[metric]``, or the target error (``TARGET_ERROR``)."""
    if metric == TARGET_ERROR:
        from mtlib.book.targets import TARGET, errors   # matplotlib: imported on first use
        return errors(result, TARGET)
    return result.final[metric]


def _by_seed(claim, arm, results, seeds):
    runs = results.get((claim.length, arm), [])
    have = {}
    for r in runs:
        if r.config["seed"] in have:
            raise ValueError(f"claim {claim.id}: arm {arm!r} at {claim.length} has two runs of seed {r.config['seed']}")
        have[r.config["seed"]] = r
    missing = [s for s in seeds if s not in have]
    if missing:
        raise ValueError(f"claim {claim.id}: arm {arm!r} at {claim.length} has no run of seeds {missing}; a verdict "
                         f"needs every one of seeds={list(seeds)}")
    return {s: have[s] for s in seeds}


def verdicts(results, seeds=CONFIRM_SEEDS, claims=CLAIMS):
    """[(claim, Paired A − B, verdict)] on ``seeds`` for ``results`` = {(length, arm): [RunResult]}
    (``mtlib.reproduce.presets.arm_results``). ValueError when an arm lacks a seed; a pair computed
    in two precisions is refused (``stats.check_one_precision``)."""
    from mtlib.book import stats

    seeds = tuple(seeds)
    out = []
    for claim in claims:
        runs_a = _by_seed(claim, claim.a, results, seeds)
        runs_b = _by_seed(claim, claim.b, results, seeds)
        stats.check_one_precision(list(runs_a.values()), list(runs_b.values()))
        paired = stats.paired({s: value(r, claim.metric_a) for s, r in runs_a.items()},
                              {s: value(r, claim.metric_b) for s, r in runs_b.items()},
                              f"{claim.a} ({claim.metric_a})", f"{claim.b} ({claim.metric_b})", claim.level)
        holds = getattr(paired, claim.predicted)
        if seeds == tuple(claim.seeds):
            verdict = "confirmed" if holds else "not confirmed"
        else:
            verdict = "as predicted" if holds else "not as predicted"
        out.append((claim, paired, verdict))
    return out


def verdict_frame(results, seeds=CONFIRM_SEEDS, claims=CLAIMS):
    """:func:`verdicts` as a DataFrame, one row per claim id."""
    import pandas as pd

    return pd.DataFrame([{"claim": c.id, "difference": f"{p.a} − {p.b}", "length": c.length,
                          "mean (points)": round(p.mean, 2),
                          f"{p.level * 100:g}% interval": f"[{p.low:+.2f}, {p.high:+.2f}]", "seeds": p.n,
                          "verdict": v} for c, p, v in verdicts(results, seeds, claims)]).set_index("claim")
