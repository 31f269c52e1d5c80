"""Choices read from validation error, never from test error (the book's protocol).

A validation split of ``n_val`` images is held out of the training subset (labels are drawn from
the rest, ``mtlib.data.prepare``). Each semi-supervised method gets the same grid of consistency
weights on the same paired seeds, supervised-only the same budget on its own regulariser (dropout),
and each gets the value with the lowest mean final validation error of the model its table reports
(``reported_metric``: the EMA model; Temporal Ensembling's raw network). The test error of these
runs is never looked at by the choice. One choice per length: runs of two lengths are never pooled.
"""
import pandas as pd

from mtlib.book.style import NAMES
from mtlib.book.tables import fmt, mean_std
from mtlib.training.methods import reported_metric as _reported_metric

KNOB_NAMES = {"consistency_weight": "weight", "dropout": "dropout"}


def reported_metric(method, split="val"):
    """'ema_val_error' (or the student's for Temporal Ensembling): what the method's table reports."""
    return _reported_metric(method, split)


def _by_method_value(results, knob):
    groups = {}
    for r in results:
        if not r.config.get("n_val"):
            raise ValueError(f"a run of {r.config['method']} (seed {r.config['seed']}) has no validation "
                             "split (n_val=0): choices are read from validation error only")
        groups.setdefault((r.config["method"], r.config[knob]), []).append(r)
    return groups


def choose(results, knob="consistency_weight"):
    """{method: value of ``knob`` with the lowest mean final validation error}; ties go to the smaller
    value. Every value of a method must have the same seeds (the same tuning budget), and all its runs
    one length (``steps``)."""
    groups, best = _by_method_value(results, knob), {}
    for method in sorted({m for m, _ in groups}):
        values = sorted(v for m, v in groups if m == method)
        lengths = {r.config.get("steps") for v in values for r in groups[method, v]}
        if len(lengths) != 1:
            raise ValueError(f"{method}: the runs have steps={sorted(lengths)}; choose at one length at a time")
        seeds = {v: sorted(r.config["seed"] for r in groups[method, v]) for v in values}
        if len({tuple(s) for s in seeds.values()}) != 1:
            raise ValueError(f"{method}: the {KNOB_NAMES.get(knob, knob)} values were run on different seeds "
                             f"{seeds}; every value needs the same seeds")
        means = {v: mean_std(r.final[reported_metric(method)] for r in groups[method, v])[0] for v in values}
        best[method] = min(values, key=lambda v: (means[v], v))
    return best


def choose_weights(results):
    """{method: consistency weight with the lowest mean final validation error} (``choose``)."""
    return choose(results, "consistency_weight")


def beyond_edges(chosen, grid, beyond):
    """The values to add to a validation ``grid`` where a choice sits on its edge (issue rule: one point
    beyond, once): ``beyond[0]`` when some method's value in ``chosen`` ({method: value}) is the grid's
    smallest, ``beyond[1]`` when it is the largest. Every method then runs the added values on the same
    seeds, so each keeps the same budget; a choice on the widened grid's edge stays there (reported)."""
    low, high = min(grid), max(grid)
    if not (beyond[0] < low and beyond[1] > high):
        raise ValueError(f"beyond={tuple(beyond)} must lie outside the grid's edges {low:g} and {high:g}")
    off = [v for v in chosen.values() if v not in grid]
    if off:
        raise ValueError(f"chosen values {off} are not in the grid {sorted(grid)}")
    return [b for b, edge in zip(beyond, (low, high)) if edge in chosen.values()]


def with_beyond_edges(runs_at, weights, beyond):
    """(runs, extra): ``runs_at(values)`` (it loads or trains the runs at those weights) on the grid
    ``weights``, plus the runs at the points ``extra`` that :func:`beyond_edges` adds where a choice on
    the grid sits on its edge."""
    runs = list(runs_at(list(weights)))
    extra = beyond_edges(choose_weights(runs), weights, beyond)
    return runs + (list(runs_at(extra)) if extra else []), extra


def edge_note(extra, what="weight"):
    """The sentence a chapter prints after :func:`with_beyond_edges` ("" when no choice sat on an edge)."""
    return f" A choice sat on the grid's edge, so every method also ran {what}(s) {list(extra)}." if extra else ""


def check_chosen(chosen, used, check=True):
    """Raise AssertionError when validation's ``chosen`` values ({method: value}) are not the ``used``
    ones the headline runs train with (a chapter's ``check_claims``; ``check=False``: do nothing)."""
    if check and chosen != used:
        diff = {m: (chosen.get(m), used.get(m)) for m in sorted(set(chosen) | set(used)) if chosen.get(m) != used.get(m)}
        raise AssertionError(f"validation chose {chosen}; the tables use {used} (method: (chosen, used): {diff})")


def choose_supervised(results):
    """{"<steps> steps": supervised-only's dropout with the lowest mean final validation error} per
    length of ``results`` (``CPU_GRIDS["supervised_dropout"]``, ``["supervised_dropout_long"]``)."""
    others = sorted({r.config["method"] for r in results} - {"supervised"})
    if others:
        raise ValueError(f"choose_supervised takes supervised-only runs; got methods {others}")
    lengths = sorted({r.config["steps"] for r in results})
    return {f"{steps} steps": choose([r for r in results if r.config["steps"] == steps], "dropout")["supervised"]
            for steps in lengths}


def check_book_values(results, knob, check=True):
    """Raise AssertionError unless what ``results`` choose per length is what ``CPU_GRIDS`` holds there
    (``CHOSEN_AT``): the methods' weights (``knob="consistency_weight"``) or supervised-only's dropout
    (``knob="dropout"``); lengths ``results`` do not cover are not checked."""
    from mtlib.scales import CHOSEN_AT, CPU_GRIDS

    for steps in sorted({r.config["steps"] for r in results}):
        length, runs = f"{steps} steps", [r for r in results if r.config["steps"] == steps]
        if knob == "dropout":
            check_chosen(choose_supervised(runs), {length: CPU_GRIDS[CHOSEN_AT[length]["supervised"]]}, check)
        else:
            check_chosen(choose(runs, knob), CPU_GRIDS[CHOSEN_AT[length]["weights"]], check)


def validation_table(results, knob="consistency_weight"):
    """Rows: method (and length where the runs have two); columns: the knob's value; cells: mean ± std
    of the final validation error (%) over seeds, the chosen value marked with *."""
    lengths = sorted({r.config.get("steps") for r in results})
    rows = {}
    for steps in lengths:
        runs_at = [r for r in results if r.config.get("steps") == steps]
        groups, chosen = _by_method_value(runs_at, knob), choose(runs_at, knob)
        for (method, value), runs in sorted(groups.items()):
            cell = fmt(*mean_std(r.final[reported_metric(method)] for r in runs))
            row = NAMES.get(method, method) + (f", {steps} steps" if len(lengths) > 1 else "")
            rows.setdefault(row, {})[f"{KNOB_NAMES.get(knob, knob)} {value:g}"] = \
                cell + (" *" if chosen[method] == value else "")
    return pd.DataFrame.from_dict(rows, orient="index")


def plot_validation(results, knob="consistency_weight", ax=None, title=None):
    """Validation error against ``knob`` (log scale unless a value is 0), one curve per method (and length): mean over
    seeds with ±1 std bars, the chosen value ringed."""
    import matplotlib.pyplot as plt

    from mtlib.book.style import COLORS

    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 3.6))
    lengths = sorted({r.config.get("steps") for r in results})
    for steps in lengths:
        runs_at = [r for r in results if r.config.get("steps") == steps]
        groups, chosen = _by_method_value(runs_at, knob), choose(runs_at, knob)
        for method in sorted({m for m, _ in groups}):
            values = sorted(v for m, v in groups if m == method)
            stats = [mean_std(r.final[reported_metric(method)] for r in groups[method, v]) for v in values]
            label = NAMES.get(method, method) + (f", {steps} steps" if len(lengths) > 1 else "")
            color = COLORS.get((method, "ema"))
            line = ax.errorbar(values, [m for m, _ in stats], yerr=[s or 0.0 for _, s in stats], marker="o",
                               capsize=3, color=color, label=label, ls="-" if steps == lengths[-1] else "--")
            best = values.index(chosen[method])
            ax.plot([values[best]], [stats[best][0]], "o", ms=13, mfc="none", mec=line[0].get_color(), mew=1.5)
    values = sorted({r.config[knob] for r in results})
    ax.set_xscale("log" if values[0] > 0 else "linear")       # a dropout grid may hold 0
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()
    ax.set(xlabel=KNOB_NAMES.get(knob, knob), ylabel="final validation error (%)")
    ax.legend(fontsize=7, title="ring: the chosen value", title_fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return ax
