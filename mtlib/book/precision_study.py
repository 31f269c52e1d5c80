"""bf16 - fp32: the same runs computed in both precisions (the appendix's tolerance between machines).

Each CPU-scale run first made in bfloat16 autocast (on a CPU with native bf16) was run again in
float32 with the same parameters and seed (same results identity: precision is how a run is
computed, not what). Pairing the two files by their key gives one difference per run, error in bf16
minus error in fp32; :func:`summary` puts a t interval on their mean per method and over all runs.
"""
from pathlib import Path

from mtlib.book import stats
from mtlib.results import load_result


def pairs(bf16_dir, fp32_dir, metric="ema_test_error"):
    """A DataFrame, one row per run found in both folders (matched by key): method, labels, seed,
    both errors and bf16 - fp32. Refuses a pair whose files do not say bf16 and fp32."""
    import pandas as pd

    fp32 = {p.name: p for p in Path(fp32_dir).glob("*.json")}
    rows = []
    for path in sorted(Path(bf16_dir).glob("*.json")):
        if path.name not in fp32:
            continue
        a, b = load_result(path), load_result(fp32[path.name])
        if (a.provenance.get("precision"), b.provenance.get("precision")) != ("bf16", "fp32"):
            raise ValueError(f"{path.name}: expected a bf16 file in {bf16_dir} and an fp32 one in {fp32_dir}, got "
                             f"{a.provenance.get('precision')} and {b.provenance.get('precision')}")
        rows.append(_row(path.name, a, b, metric))
    return pd.DataFrame(rows, columns=COLUMNS)


def pairs_in(folders, metric="ema_test_error"):
    """:func:`pairs` over whatever ``folders`` hold, before or after the reruns replace the originals: a
    file name found in bf16 in one folder and in fp32 in another (or the same after a move) is a pair;
    the first folder holding a name in a precision wins. Files of one precision only are left out."""
    import pandas as pd

    found = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.json")):
            result = load_result(path)
            found.setdefault(path.name, {}).setdefault(result.provenance.get("precision"), result)
    rows = [_row(name, twins["bf16"], twins["fp32"], metric) for name, twins in sorted(found.items())
            if "bf16" in twins and "fp32" in twins]
    return pd.DataFrame(rows, columns=COLUMNS)


COLUMNS = ["method", "labels", "seed", "file", "bf16", "fp32", "bf16 - fp32"]


def _row(name, a, b, metric):
    return {"method": a.config["method"], "labels": a.config["n_labels"], "seed": a.config["seed"],
            "file": name, "bf16": a.final[metric], "fp32": b.final[metric],
            "bf16 - fp32": a.final[metric] - b.final[metric]}


def comparisons(table):
    """bf16 - fp32 as :class:`mtlib.book.stats.Paired`, per method (display names) and over all pairs:
    the rows of :func:`summary` for :func:`mtlib.book.plots.forest_plot`."""
    from mtlib.book.style import NAMES

    groups = [(NAMES.get(m, m), table[table["method"] == m]) for m in sorted(table["method"].unique())]
    out = []
    for name, part in groups + [("all runs", table)]:
        out.append(stats.paired(dict(zip(part["file"], part["bf16"])), dict(zip(part["file"], part["fp32"])),
                                f"{name}: bf16", "fp32"))
    return out


def summary(table):
    """Per method and over all runs: pairs, mean bf16 - fp32 with its 95 % t interval, and the
    standard deviation of a single pair's difference (the spread between two machines)."""
    import pandas as pd

    groups = [(m, table[table["method"] == m]) for m in sorted(table["method"].unique())] + [("all", table)]
    rows = []
    for name, part in groups:
        d = part["bf16 - fp32"].tolist()
        if len(d) < 2:     # one pair has no interval
            rows.append({"method": name, "pairs": len(d), "mean (points)": round(d[0], 2) if d else None,
                         "95% interval": "none (one pair)", "sd of one pair": None})
            continue
        mean, low, high = stats.t_interval(d)
        rows.append({"method": name, "pairs": len(d), "mean (points)": round(mean, 2),
                     "95% interval": f"[{low:+.2f}, {high:+.2f}]",
                     "sd of one pair": round(float(part["bf16 - fp32"].std(ddof=1)), 2)})
    return pd.DataFrame(rows).set_index("method")
