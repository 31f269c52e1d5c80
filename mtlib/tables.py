"""Results files -> mean +- std per table cell, beside the paper's numbers (Tables 1-2)."""
import statistics
from pathlib import Path

import pandas as pd

from mtlib.paper import paper_error
from mtlib.results import load_result


def load_results(results_dir, **where):
    """Every results file in ``results_dir`` whose config matches all ``where`` items."""
    out = []
    for path in sorted(Path(results_dir).glob("*.json")):
        r = load_result(path)
        if all(r.config.get(k) == v for k, v in where.items()):
            out.append(r)
    return out


def mean_std(values):
    values = list(values)
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarize(results, metric="ema_test_error", by=("dataset", "method", "n_labels")):
    """One row per distinct ``by`` key: runs, seeds, mean and std of ``metric``, the paper's mean and std."""
    groups = {}
    for r in results:
        groups.setdefault(tuple(r.config[k] for k in by), []).append(r)
    rows = []
    for key, rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        mean, std = mean_std(r.final[metric] for r in rs)
        cfg = dict(zip(by, key))
        paper = paper_error(cfg.get("dataset"), cfg.get("method"), cfg.get("n_labels"))
        rows.append({**cfg, "runs": len(rs), "seeds": sorted(r.config["seed"] for r in rs),
                     "mean": mean, "std": std,
                     "paper_mean": paper[0] if paper else None, "paper_std": paper[1] if paper else None})
    return rows


def fmt(mean, std):
    if mean is None:
        return "not run yet"
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def side_by_side(rows, ours_label, paper_label="paper (paper scale)"):
    """A DataFrame: one line per method, one column pair per label count (ours | the paper's)."""
    table = {}
    for row in rows:
        line = table.setdefault(row["method"], {})
        line[(row["n_labels"], ours_label)] = fmt(row["mean"], row["std"])
        line[(row["n_labels"], paper_label)] = fmt(row["paper_mean"], row["paper_std"]) \
            if row["paper_mean"] is not None else "—"
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["labels", ""])
    return frame.sort_index(axis=1, level=0, sort_remaining=False)
