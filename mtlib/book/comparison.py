"""A method against supervised-only on the same labels and seeds (Tables 1-2 rows, one chapter each).

``run_methods`` gets every (method, seed) run through ``run_or_load`` from one base config, so
two chapters with the same base share the supervised-only results files. ``final_error_table``
prints mean +- std over seeds of the student's and the EMA model's final test error, with the
paper's number beside it where the paper reports one (always labelled as the paper's).
"""
import matplotlib.pyplot as plt
import pandas as pd

from mtlib.config import RunConfig
from mtlib.book.chapter import with_weights
from mtlib.book.paper import paper_error
from mtlib.book.plots import plot_curves
from mtlib.book.style import NAMES
from mtlib.book import stats
from mtlib.book.tables import fmt, mean_std
from mtlib.models import CONVNET_NORMS
from mtlib.runs import grid, run_grid

MODELS = {"student": "student", "ema": "EMA"}


def run_methods(base, methods, seeds, results_dir, retrain=False, weights=None):
    """{method: [RunResult for each seed]} for ``base`` (a RunConfig) with ``method`` and ``seed`` set,
    each method at its consistency weight in ``weights`` (``chapter.method_weights``; others: base's)."""
    if not isinstance(base, RunConfig):
        raise ValueError(f"base must be a RunConfig; got {type(base).__name__}")
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed, e.g. seeds=[0]")
    return {m: run_grid(with_weights(grid(base, method=[m], seed=list(seeds)), weights or {}), results_dir,
                        retrain=retrain)
            for m in methods}


def final_errors(results, model="ema", metric="test_error"):
    """Final ``<model>_<metric>`` of each run, in seed order."""
    return [r.final[f"{model}_{metric}"] for r in results]


def final_error_table(runs, scale_label="ours"):
    """DataFrame: one row per method; final test error (%) mean ± std over seeds for student and EMA (and,
    where every run was also evaluated with recalibrated statistics, the EMA model's that way)."""
    rows = {}
    for method, results in runs.items():
        cfg = results[0].config
        row = {"seeds": ", ".join(str(r.config["seed"]) for r in results)}
        for model, label in MODELS.items():
            row[f"{label} test error (%), {scale_label}"] = fmt(*mean_std(final_errors(results, model)))
        if all(r.final.get("ema_recal_test_error") is not None for r in results):
            row[f"EMA test error, recalibrated (%), {scale_label}"] = \
                fmt(*mean_std(r.final["ema_recal_test_error"] for r in results))
        paper = paper_error(cfg["dataset"], method, cfg["n_labels"])
        row[f"paper: {cfg['n_labels']} labels, paper scale"] = fmt(*paper) if paper else "—"
        rows[NAMES.get(method, method)] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    # no paper column where the paper reports none of these methods
    return frame.loc[:, [c for c in frame.columns if not (c.startswith("paper") and (frame[c] == "—").all())]]


def curves_and_table(runs, method, scale, seeds):
    """A method against supervised-only: the first seed's test-error curves, then the table of
    final errors over all seeds (one call for the Pi and TE chapters)."""
    ax = plot_curves([runs["supervised"][0], runs[method][0]], labels=[NAMES["supervised"], NAMES[method]])
    ax.set_title(f"{scale.replace(': ', ':' + chr(10), 1)}, seed {seeds[0]}", fontsize=8)
    plt.show()
    print(scale)
    return final_error_table(runs, "ours")


NORM_NAMES = {"batchnorm": "batch norm", "weightnorm": "weight norm"}   # weight norm: + mean-only batch norm


def normalisation_runs(base, methods, seeds, results_dir):
    """{norm: {method: [RunResult per seed]}}: ``base`` with each ConvNet-13 normalisation."""
    return {norm: run_methods(base.replace(convnet_norm=norm), methods, seeds, results_dir) for norm in CONVNET_NORMS}


def normalisation_comparisons(runs, metric="ema_test_error"):
    """Paired comparisons: the authors' normalisation against batch norm for each method, then each
    non-supervised method against supervised-only under each normalisation."""
    wn, bn = runs["weightnorm"], runs["batchnorm"]
    out = [stats.compare(wn[m], bn[m], f"{NAMES[m]}, {NORM_NAMES['weightnorm']}", f"{NAMES[m]}, {NORM_NAMES['batchnorm']}",
                         metric) for m in wn]
    for norm, by_method in runs.items():
        out += [stats.compare(by_method[m], by_method["supervised"], f"{NAMES[m]}, {NORM_NAMES[norm]}",
                              f"{NAMES['supervised']}, {NORM_NAMES[norm]}", metric)
                for m in by_method if m != "supervised"]
    return out


def evaluation_swing(results, metric="ema_test_error", after=1000):
    """Mean absolute change of ``metric`` between consecutive evaluations after step ``after``, over
    ``results``: how much a run's measured error moves from one evaluation to the next."""
    changes = []
    for r in results:
        values = [row[metric] for row in r.history if row["step"] > after and row.get(metric) is not None]
        changes += [abs(b - a) for a, b in zip(values, values[1:])]
    if not changes:
        raise ValueError(f"no two evaluations of {metric} after step {after}")
    return sum(changes) / len(changes)
