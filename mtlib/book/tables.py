"""Results files -> mean +- std per table cell, beside the paper's numbers (Tables 1-2)."""
import shlex
import statistics
from pathlib import Path

import pandas as pd

from mtlib.book.chapter import ARCH_NAMES
from mtlib.book.paper import column_heading, paper_error
from mtlib.book.stats import mean_std  # noqa: F401  (tables and chapters use it from here too)
from mtlib.book.style import NAMES
from mtlib.results import load_result
from mtlib import flops
from mtlib.training.methods import reported_metric


def load_results(results_dir, **where):
    """Every results file in ``results_dir`` whose config matches all ``where`` items."""
    out = []
    for path in sorted(Path(results_dir).glob("*.json")):
        r = load_result(path)
        if all(r.config.get(k) == v for k, v in where.items()):
            out.append(r)
    return out


def summarize(results, metric="ema_test_error", by=("dataset", "method", "n_labels")):
    """One row per distinct ``by`` key: runs, seeds, mean and std of ``metric`` (None: each run's
    method's ``reported_metric``), the paper's mean and std."""
    groups = {}
    for r in results:
        groups.setdefault(tuple(r.config[k] for k in by), []).append(r)
    rows = []
    for key, rs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        mean, std = mean_std(r.final[metric or reported_metric(r.config["method"])] for r in rs)
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
    """A DataFrame: one line per method (by its name, ``style.NAMES``), one column pair per label
    count (ours | the paper's); a label count at which the paper reports none of these methods gets
    no paper column."""
    table, paper_counts = {}, {row["n_labels"] for row in rows if row["paper_mean"] is not None}
    for row in rows:
        line = table.setdefault(NAMES.get(row["method"], row["method"]), {})
        line[(row["n_labels"], ours_label)] = fmt(row["mean"], row["std"])
        if row["n_labels"] in paper_counts:
            line[(row["n_labels"], paper_label)] = fmt(row["paper_mean"], row["paper_std"]) \
                if row["paper_mean"] is not None else "—"
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["labels", ""])
    return frame.sort_index(axis=1, level=0, sort_remaining=False)


# --- chapter helpers (results_tables, ablations, paper_scale) ---------------------------------

def fill_missing(rows, dataset, methods, label_counts):
    """``rows`` for the cells (method, label count) asked for, in that order; a cell without runs
    gets a row with ``mean=None`` (shown as "not run yet") and the paper's number if it has one."""
    have = {(r["method"], r["n_labels"]): r for r in rows}
    out = []
    for method in methods:
        for n in label_counts:
            paper = paper_error(dataset, method, n)
            out.append(have.get((method, n)) or {
                "dataset": dataset, "method": method, "n_labels": n, "runs": 0, "seeds": [],
                "mean": None, "std": None, "paper_mean": paper[0] if paper else None,
                "paper_std": paper[1] if paper else None})
    return out


def results_table(results_dir, dataset, methods, label_counts, ours_label, metric="ema_test_error",
                  **where):
    """side_by_side of every (method, label count) cell of ``dataset`` in ``results_dir`` whose
    config matches ``where``, with "not run yet" for cells without a results file."""
    rows = summarize(load_results(results_dir, dataset=dataset, **where), metric=metric)
    return side_by_side(fill_missing(rows, dataset, methods, label_counts), ours_label)


def results_table_if_run(results_dir, dataset, methods, label_counts, ours_label, metric="ema_test_error",
                         **where):
    """``results_table``, or None while no results file in ``results_dir`` matches (nothing of it run
    yet): a chapter shows a table of paper-scale cells only once some of them exist."""
    if not load_results(results_dir, dataset=dataset, **where):
        return None
    return results_table(results_dir, dataset, methods, label_counts, ours_label, metric, **where)


def preset_plan(presets, device="cuda"):
    """One line per preset (``mtlib.reproduce.presets.Preset``): what it reproduces, its runs, the
    training images they process (steps x batch, summed), how many of its table cells have a number
    of the paper's to compare with (``mtlib.book.paper``, through the preset), and its command."""
    lines = []
    for preset in presets:
        runs = list(preset.runs())
        lines.append({"preset": preset.name, "reproduces": preset.title, "runs": len(runs),
                      "images (millions)": round(sum(r.config["steps"] * r.config["batch_size"] for r in runs) / 1e6),
                      "cells with a paper number": len({(r.row, r.col) for r in runs if r.paper}),
                      "command": f"python -m mtlib.reproduce run {preset.name} --override device={device}"})
    return pd.DataFrame(lines).set_index("preset")


ASSUMED_TFLOPS = 100.0   # a round sustained rate, an assumption, not a measurement


def _pass_key(config):
    """(network, method) of a run, the method with its VAT target where it has a choice of two."""
    network = ARCH_NAMES[config["arch"]] + (", two heads" if config["two_heads"] else "")
    method = NAMES.get(config["method"], config["method"])
    if config["method"] == "mean_teacher_vat":
        method += f" ({config['vat_target']}'s target)"
    return network, method


def training_flops_table(presets, bf16=True):
    """One line per (network, method) of the presets' runs: the network's forward GFLOPs per image at
    its input size, the training GFLOPs per image of a batch and their ratio
    (``mtlib.flops``: counted by torch, the backward passes measured); ``bf16``: whether the
    runs compute under bf16 autocast (only VAT's passes depend on it)."""
    lines = {}
    for preset in presets:
        for r in preset.runs():
            key = _pass_key(r.config)
            if key not in lines:
                forward = flops.forward_flops_per_image(r.config)
                train = flops.training_flops_per_image(r.config, bf16=bf16)
                lines[key] = {"forward GFLOP per image": round(forward / 1e9, 3),
                              "training GFLOP per image": round(train / 1e9, 3),
                              "× forward": round(train / forward, 3)}
    frame = pd.DataFrame.from_dict(lines, orient="index")
    frame.index.names = ["network", "method"]
    return frame


def preset_cost(presets, sustained_tflops=ASSUMED_TFLOPS, bf16=True):
    """One line per preset: its runs' training PFLOPs (steps x batch x training FLOPs per image, summed;
    ``mtlib.flops``, evaluation left out) and the GPU hours they take at ``sustained_tflops``,
    a sustained rate that is assumed, not measured (the column's heading says so)."""
    flops.gpu_hours(0, sustained_tflops)   # ValueError naming sustained_tflops for a rate that is not > 0
    hours = f"GPU hours at {sustained_tflops:g} TFLOP/s (assumed)"
    lines = []
    for preset in presets:
        total = sum(flops.training_flops(r.config, bf16=bf16) for r in preset.runs())
        lines.append({"preset": preset.name, "training PFLOP": round(total / 1e15),
                      hours: round(flops.gpu_hours(total, sustained_tflops), 1)})
    return pd.DataFrame(lines).set_index("preset")


def preset_paper_cells(preset):
    """The paper's numbers that a preset's cells are compared with, as "mean ± std" (``mtlib.book.paper``,
    through the preset's lookup): one line per row of its table (method, and variant where it has
    one), one column per label count; "—" where the paper prints no number."""
    cells = {}
    for r in preset.runs():
        method, _, variant = r.row.partition(" | ")
        row = NAMES.get(method, method) + (f", {variant}" if variant else "")
        cells.setdefault(row, {})[f"{r.col} labels"] = fmt(*r.paper) if r.paper else "—"
    frame = pd.DataFrame.from_dict(cells, orient="index")
    return frame[sorted(frame.columns, key=lambda c: int(c.split()[0]))]


def run_times(results):
    """The compute of a run, one line per method and one column per kind of machine, read from each
    results file's provenance (its precision, the CPU's vector capability, "not recorded" in files made
    before the provenance had it, and its threads): a cell reads "median minutes a run, median training
    images per second (runs)"."""
    groups = {}
    for r in results:
        p = r.provenance
        kind = f"{p.get('precision')}, {p.get('cpu_capability') or 'not recorded'}, {p.get('torch_threads')} thread(s)"
        groups.setdefault((r.config["method"], kind), []).append((p["wall_time_s"] / 60, p.get("images_per_s")))

    def cell(runs):
        speeds = [s for _, s in runs if s is not None]
        speed = f", {statistics.median(speeds):.0f} img/s" if speeds else ""
        return f"{statistics.median(m for m, _ in runs):.1f} min{speed} ({len(runs)})"

    kinds = sorted({k for _, k in groups})
    methods = [m for m in NAMES if any(m == g for g, _ in groups)]
    frame = pd.DataFrame({kind: {NAMES[m]: cell(groups[m, kind]) for m in methods if (m, kind) in groups}
                          for kind in kinds})
    return frame.reindex([NAMES[m] for m in methods]).fillna("—")


def paper_frame(table, column="paper"):
    """One of mtlib.book.paper's tables as a DataFrame of "mean ± std" strings, "—" where it has no number.

    ``table`` maps row name -> {column key: (mean, std)} (Tables 1-3; columns sorted by key, headed
    as the paper heads them, ``mtlib.book.paper.column_heading``: label counts, or for Table 3 "500 labels,
    N images") or row name -> (mean, std) (Table 4: one column named ``column``)."""
    if all(isinstance(cells, tuple) for cells in table.values()):
        return pd.DataFrame({column: {name: fmt(*v) for name, v in table.items()}})
    counts = sorted({n for cells in table.values() for n in cells})
    headings = [column_heading(table, n) for n in counts]
    lines = {name: {h: fmt(*cells[n]) if n in cells else "—" for n, h in zip(counts, headings)}
             for name, cells in table.items()}
    return pd.DataFrame.from_dict(lines, orient="index")[headings]


def rank_methods(rows):
    """{label count: [methods, lowest mean error first]} over the rows that have a mean."""
    ranks = {}
    for r in rows:
        if r["mean"] is not None:
            ranks.setdefault(r["n_labels"], []).append((r["mean"], r["method"]))
    return {n: [m for _, m in sorted(v)] for n, v in sorted(ranks.items())}


def sweep_mean(panel, value, series=None, metric="ema_test_error"):
    """Mean of ``metric`` over the runs of one point of a Figure-4 panel (see plot_figure4)."""
    runs_per_value = panel["series"][series] if series is not None else next(iter(panel["series"].values()))
    runs = runs_per_value[list(panel["values"]).index(value)]
    return mean_std(r.final[metric] for r in runs)[0]


def sweep_frame(panels, metric="ema_test_error"):
    """One line per (panel, series, value): runs, mean and std of ``metric`` over seeds.
    The base value of a panel's first series (the base run) is marked "◀ base"."""
    lines = []
    for p in panels:
        for i, (name, runs_per_value) in enumerate(p["series"].items()):
            for value, runs in zip(p["values"], runs_per_value):
                mean, std = mean_std(r.final[metric] for r in runs)
                lines.append({"panel": p["title"], "series": name, "value": str(value),
                              "base": "◀ base" if i == 0 and value == p.get("marked") else "",
                              "runs": len(runs), metric: fmt(mean, std)})
    return pd.DataFrame(lines)


def papermill_command(notebook, params, out="out.ipynb", width=None):
    """The shell command that runs ``notebook`` with ``params``: lists go as ``-y "name: [...]"``,
    everything else as ``-p name value`` (papermill reads True, False, None and numbers back).
    ``width``: continue the command on a new line (`` \\``) before a line gets longer than that."""
    units = [f"papermill {notebook} {out}"]
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            units.append("-y " + shlex.quote(f"{name}: [{', '.join(str(v) for v in value)}]"))
        else:
            units.append(f"-p {name} {shlex.quote(str(value))}")
    lines = [units[0]]
    for unit in units[1:]:
        if width and len(lines[-1]) + 1 + len(unit) > width:
            lines.append("    " + unit)
        else:
            lines[-1] += " " + unit
    return " \\\n".join(lines)


def runs_frame(results, columns=None, metrics=("student_test_error", "ema_test_error")):
    """One row per run: the config columns that vary between the runs (or ``columns``), the final
    metrics and the wall time — how the introduction lists the CPU-scale search."""
    configs = [r.config for r in results]
    if columns is None:
        keys = sorted({k for c in configs for k in c})
        columns = [k for k in keys if len({str(c.get(k)) for c in configs}) > 1]
    rows = []
    for r in results:
        row = {k: (len(v) if k == "classes" and isinstance(v, list) else v)
               for k, v in ((k, r.config.get(k)) for k in columns)}
        row.update({m: r.final.get(m) for m in metrics})
        row["wall_s"] = r.provenance.get("wall_time_s")
        rows.append(row)
    return pd.DataFrame(rows)


def mean_between(result, column, start, end):
    """Mean of a history column over the evaluations with start <= step <= end (Fig. 3's
    'after an initial period'): e.g. student vs EMA error between the ramp-up and the ramp-down."""
    values = [row[column] for row in result.history
              if start <= row["step"] <= end and row.get(column) is not None]
    if not values:
        raise ValueError(f"no evaluation of {column!r} between steps {start} and {end}")
    return statistics.fmean(values)


def label_curve(results, metric=None):
    """Error against the number of labels (the shape of the paper's Tables 1-2): one row per method and
    label count with its runs, mean and 95 % t interval of the mean over seeds (None with one run) of
    ``metric`` (None: each method's ``reported_metric``)."""
    from mtlib.book.stats import t_interval

    groups = {}
    for r in results:
        c = r.config
        groups.setdefault((c["method"], c["n_labels"]), []).append(r.final[metric or reported_metric(c["method"])])
    rows = []
    for (method, n), values in sorted(groups.items(), key=lambda kv: (list(NAMES).index(kv[0][0])
                                                                       if kv[0][0] in NAMES else 99, kv[0][1])):
        mean, low, high = t_interval(values) if len(values) > 1 else (values[0], None, None)
        rows.append({"method": NAMES.get(method, method), "labels": n, "runs": len(values),
                     "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["method", "labels", "runs", "mean", "low", "high"])
