"""Choices read from validation error, never from test error (the book's protocol).

A validation split of ``n_val`` images is held out of the training subset (labels are drawn from
the rest, ``mtlib.data.prepare``). Each semi-supervised method gets the same grid of consistency
weights on the same paired seeds, and its weight is the one with the lowest mean final validation
error of the model its table reports (the EMA model; Temporal Ensembling's raw network). The test
error of these runs is never looked at by the choice.
"""
import pandas as pd

from mtlib.book.style import NAMES
from mtlib.book.tables import fmt, mean_std
from mtlib.training.methods import METHOD_CLASSES


def reported_metric(method, split="val"):
    """'ema_val_error' (or the student's for Temporal Ensembling): what the method's table reports."""
    return f"{METHOD_CLASSES[method].reported_model}_{split}_error"


def _by_method_weight(results):
    groups = {}
    for r in results:
        if not r.config.get("n_val"):
            raise ValueError(f"a run of {r.config['method']} (seed {r.config['seed']}) has no validation "
                             "split (n_val=0): choices are read from validation error only")
        groups.setdefault((r.config["method"], r.config["consistency_weight"]), []).append(r)
    return groups


def choose_weights(results):
    """{method: weight with the lowest mean final validation error}; ties go to the smaller weight.
    Every weight of a method must have the same seeds (the same tuning budget)."""
    groups, best = _by_method_weight(results), {}
    for method in sorted({m for m, _ in groups}):
        weights = sorted(w for m, w in groups if m == method)
        seeds = {w: sorted(r.config["seed"] for r in groups[method, w]) for w in weights}
        if len({tuple(s) for s in seeds.values()}) != 1:
            raise ValueError(f"{method}: the weights were run on different seeds {seeds}; "
                             "every weight needs the same seeds")
        means = {w: mean_std(r.final[reported_metric(method)] for r in groups[method, w])[0] for w in weights}
        best[method] = min(weights, key=lambda w: (means[w], w))
    return best


def validation_table(results):
    """Rows: method; columns: weight; cells: mean ± std of the final validation error (%) over
    seeds, the chosen weight marked with *."""
    groups, chosen = _by_method_weight(results), choose_weights(results)
    rows = {}
    for (method, weight), runs in sorted(groups.items()):
        cell = fmt(*mean_std(r.final[reported_metric(method)] for r in runs))
        rows.setdefault(NAMES.get(method, method), {})[f"weight {weight:g}"] = cell + (" *" if chosen[method] == weight else "")
    return pd.DataFrame.from_dict(rows, orient="index")
