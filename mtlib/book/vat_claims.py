"""The Mean Teacher + VAT chapter's claims, written down before any of its comparison runs (a pre-registration).

The paper leaves open whether its two ways to better targets, a careful perturbation (VAT) and a
careful teacher (Mean Teacher), combine: "their combination may produce even better outcomes" (Sec. 1).
Each claim is a paired difference A − B of the final test error of the model each arm reports
(``Method.reported_model``: VAT's network itself, as vat_tf evaluates it; the EMA model of Mean
Teacher, its two combinations with VAT and supervised-only), in the direction that sentence (and, for
VAT against supervised-only, Miyato et al.'s tables) predicts: A has the lower error.

* Arms: ``mtlib.book.vat_study.ARMS`` at the ε validation chose (``CPU_GRIDS["vat_epsilon"]``, seeds
  0–3 on validation images), Mean Teacher and supervised-only at their own validated values; the runs
  are the presets ``cpu-vat`` and ``cpu-vat-long``, whose baselines are ``cpu-confirm``'s runs.
* Rule and seeds: those of ``mtlib.book.claims`` (the 95 % paired Student t interval, "confirmed" when
  it excludes 0 on the predicted side; seeds 100–107), each claim at its own level, no correction for
  their number (six).
* Order: this file was committed before the first VAT arm ran on these seeds. The baselines' runs on
  them existed already (they are the confirmatory runs of ``mtlib.book.claims``); nothing in these
  claims was chosen from them, and ε is chosen by a fixed rule on validation error only.

``git log mtlib/book/vat_claims.py`` is the record that the claims came first.
"""
from mtlib.book.claims import CONFIRM_SEEDS, Claim
from mtlib.scales import LENGTH_LONG, LENGTH_SHORT
from mtlib.training.methods import reported_metric

SEEDS = CONFIRM_SEEDS
A, B = "mean_teacher_vat/student", "mean_teacher_vat/teacher"
_SEC1 = "Sec. 1: the combination of a careful perturbation and a careful teacher 'may produce even better outcomes'"
# (id, A, B, length, where the prediction comes from)
_PAIRS = [
    ("vat-vs-supervised@3000", "vat", "supervised", LENGTH_SHORT,
     "Miyato et al. (TPAMI 2018) and the paper's Tables 1-2 (VAT rows): VAT below supervised-only"),
    ("mt-vat-a-vs-mt@3000", A, "mean_teacher", LENGTH_SHORT, _SEC1 + " than Mean Teacher alone, (a)"),
    ("mt-vat-b-vs-mt@3000", B, "mean_teacher", LENGTH_SHORT, _SEC1 + " than Mean Teacher alone, (b)"),
    ("mt-vat-a-vs-vat@3000", A, "vat", LENGTH_SHORT, _SEC1 + " than VAT alone, (a)"),
    ("mt-vat-b-vs-vat@3000", B, "vat", LENGTH_SHORT, _SEC1 + " than VAT alone, (b)"),
    ("mt-vat-b-vs-mt@9000", B, "mean_teacher", LENGTH_LONG, _SEC1 + " than Mean Teacher alone, (b) at 9,000 steps"),
]


def _method(arm):
    return arm.split("/")[0]


CLAIMS = tuple(Claim(id=cid, a=a, b=b, length=length, metric_a=reported_metric(_method(a)),
                     metric_b=reported_metric(_method(b)), source=source, seeds=SEEDS)
               for cid, a, b, length, source in _PAIRS)
