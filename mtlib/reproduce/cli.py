"""Paper-scale reproduction: expand a preset into runs, run (a shard of) them, print the table.

    python -m mtlib.reproduce list
    python -m mtlib.reproduce run table2-cifar10 --labels 4000 --methods mean_teacher --shard 0/8
    python -m mtlib.reproduce table table2-cifar10

``run`` writes one results file per run into ``--results`` (default book/results/paper; cpu-*: book/results/cpu), SKIPS runs
whose file exists for the same identity and mtlib version, RESUMES an interrupted run from its
checkpoint (``<results>/checkpoints``: every ``--checkpoint-every`` steps and, on SIGTERM / Ctrl-C,
after the current step), and never overwrites or deletes a results file. ``--shard i/n`` takes runs
i, i+n, ... of the selection (the n tasks of a Slurm array fill a table together). ``--via papermill``
executes the run's chapter notebook instead of training in-process.
"""
import argparse
import ast
import contextlib
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import mtlib
from mtlib.config import RunConfig
from mtlib.reproduce.presets import PRESETS, get_preset
from mtlib.results import (MATCHING, OTHER_PARAMETERS, OTHER_VERSION, RESULTS_VERSION, checkpoint_path, load_result,
                           result_path, result_status, run_key)
from mtlib.runs import DataCache, results_dir as default_results_dir
from mtlib.scales import NotChosenYet
from mtlib.training.trainer import Stopped, Trainer

REPO = Path(mtlib.__file__).resolve().parent.parent
EXIT_ERROR, EXIT_STOPPED = 2, 3


class ReproduceError(Exception):
    """Bad input or a state of the results folder that the runner refuses to touch."""


# ---------------------------------------------------------------------------------- selection
def add_selection(ap, checkpoints=False):
    """The arguments that select runs (shared with mtlib.reproduce.distributed)."""
    ap.add_argument("preset", help="a preset name (see `list`)")
    ap.add_argument("--seeds", type=int, nargs="+",
                    help="seeds (default: the preset's, from 0; cpu-confirm's: mtlib.book.claims.CONFIRM_SEEDS)")
    ap.add_argument("--labels", type=int, nargs="+", help="label counts (default: all of the preset's)")
    ap.add_argument("--methods", nargs="+", help="methods (default: all of the preset's)")
    ap.add_argument("--variants", nargs="+", help="variants of a sweep / Table 3 (default: all)")
    ap.add_argument("--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="set RunConfig parameters on every run (changes the runs' identity)")
    ap.add_argument("--results", type=Path, default=None,
                    help="results folder (default: book/results/paper, or $MTLIB_RESULTS/paper; "
                         "a cpu-* preset: .../cpu)")
    if checkpoints:
        ap.add_argument("--checkpoint-every", type=int, default=1000, help="steps between checkpoints (1000)")


def parse_override(items):
    """``["steps=6", "classes=['cat','dog']"]`` -> dict; values are Python literals, else strings."""
    known, out = set(RunConfig.__dataclass_fields__), {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ReproduceError(f"--override {item!r} is not key=value (e.g. --override steps=1000)")
        if key not in known:
            raise ReproduceError(f"--override {key}=... names no RunConfig parameter; known: {sorted(known)}")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def parse_shard(text):
    """``"i/n"`` -> (i, n) with 0 <= i < n."""
    try:
        i, n = map(int, (text or "0/1").split("/"))
    except ValueError:
        i, n = 0, 0
    if not 0 <= i < n:
        raise ReproduceError(f"--shard {text!r} is not i/n with 0 <= i < n (e.g. --shard 0/4: first of 4)")
    return i, n


def select(args, shard=(0, 1), **defaults):
    """(runs, results folder) of parsed selection arguments: runs without duplicate identities, then
    every n-th from i; ``defaults``: RunConfig values that ``--override`` may change. Without
    ``--results`` the folder is the preset's scale's (``book/results/cpu`` for a cpu-* preset)."""
    runs, preset = {}, get_preset(args.preset)
    for r in preset.runs(args.seeds, args.labels, args.methods, args.variants,
                         {**defaults, **parse_override(args.override)}):
        runs.setdefault(run_key(r.config), r)
    folder = Path(args.results) if args.results else default_results_dir(preset.scale)
    return list(runs.values())[shard[0]::shard[1]], folder


def run_config(run, folder, checkpoint_every):
    """The run's RunConfig, checkpointing into ``<folder>/checkpoints``."""
    return RunConfig.from_dict({**run.config, "checkpoint_dir": str(Path(folder) / "checkpoints"),
                                "checkpoint_every": checkpoint_every})


# ----------------------------------------------------------------------------- results folder
def check_writable(folder):
    """Create ``folder`` if needed and prove we can write there; ReproduceError otherwise."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ReproduceError(f"results folder {folder} is not writable ({e.strerror or e}); "
                             "choose another with --results DIR") from None


def scan_results(folder):
    """Every ``*.json`` in ``folder`` by name; a malformed or foreign one is an error naming it."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            found[path.name] = load_result(path)
            run_key(found[path.name].config)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ReproduceError(f"{path} is not a readable mtlib results file ({e}); it is left untouched: "
                                 "move it out of the results folder (or use another --results DIR)") from None
    return found


def run_status(folder, config, scanned=None):
    """("done", result) or ("todo", None); a file in the run's place made for other parameters or by
    another mtlib version raises ReproduceError (it is never overwritten)."""
    status, result = result_status(folder, config, scanned=scanned)
    path = result_path(folder, config)
    if status == OTHER_PARAMETERS:
        raise ReproduceError(f"{path} holds a run with other parameters than {path.stem}; it is never "
                             "overwritten: move it away")
    if status == OTHER_VERSION:
        raise ReproduceError(f"{path} was made by results version {result.provenance.get('results_version')} "
                             f"(mtlib {result.provenance.get('mtlib_version')}), this mtlib computes results "
                             f"version {RESULTS_VERSION}; it is never overwritten: move it (or the folder) away")
    return ("done" if status == MATCHING else "todo"), result


# ------------------------------------------------------------------------------------ running
@contextlib.contextmanager
def graceful_stop():
    """Yield ``should_stop()``: true once SIGTERM / SIGINT arrived (handlers in the main thread only)."""
    requested, old = [], {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, lambda *_: requested.append(True))
    try:
        yield lambda: bool(requested)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def notebook_path(run, notebooks=None):
    nb = Path(notebooks) / Path(run.notebook).name if notebooks else REPO / run.notebook
    if not nb.exists():
        raise ReproduceError(f"chapter notebook {nb} for {run.name} does not exist; use --via direct "
                             "or --notebooks DIR")
    return nb


def run_papermill(run, folder, cfg, notebook, kernel=None):
    """Execute ``notebook`` for this one run; the notebook saves the results file itself."""
    try:
        import papermill as pm
    except ImportError:
        raise ReproduceError("--via papermill needs papermill (pip install papermill)") from None
    folder = Path(folder).resolve()
    path = result_path(folder, cfg.to_dict())
    # a chapter reads None as "the CPU scale"; the string "none" sets an optional knob to None
    knobs = {k: "none" if v is None else v for k, v in cfg.to_dict().items()}
    params = {**knobs, "seeds": [cfg.seed], "label_counts": [cfg.n_labels], "methods": [cfg.method],
              "results_scale": folder.name, "retrain": False, "check_claims": False}
    old = os.environ.get("MTLIB_RESULTS")
    os.environ["MTLIB_RESULTS"] = str(folder.parent)     # results_dir(results_scale) == folder
    try:
        pm.execute_notebook(str(notebook), str(path.with_suffix(".ipynb")), parameters=params,
                            cwd=str(Path(notebook).parent), kernel_name=kernel, progress_bar=False)
    finally:
        if old is None:
            del os.environ["MTLIB_RESULTS"]
        else:
            os.environ["MTLIB_RESULTS"] = old
    if not path.exists():
        raise ReproduceError(f"{notebook} ran for {run.name} but wrote no results file {path.name}; its "
                             "parameters cell must take every RunConfig knob plus seeds/label_counts/methods/"
                             "results_scale and save through mtlib.runs.run_or_load")
    return load_result(path)


def run_one(run, folder, checkpoint_every, via="direct", notebooks=None, data_cache=None,
            progress=False, should_stop=None, kernel=None):
    """Run one PresetRun into ``folder`` unless its results file exists; return (status, result)."""
    status, result = run_status(folder, run.config)
    if status == "done":
        return "skipped", result
    cfg = run_config(run, folder, checkpoint_every)
    ckpt = checkpoint_path(cfg.to_dict())
    resumed = ckpt.exists()
    if via == "papermill":
        result = run_papermill(run, folder, cfg, notebook_path(run, notebooks), kernel=kernel)
    else:
        trainer = Trainer(cfg, (data_cache or DataCache()).get(cfg))
        trainer.resume()
        start = trainer.step
        result = trainer.run(progress=progress, resume=False, should_stop=should_stop)
        result.provenance.update(preset_run=run.name, via="direct", resumed_from_step=start)
        path = result_path(folder, cfg.to_dict())
        if path.exists():      # another shard finished it meanwhile: keep theirs, never overwrite
            return "skipped", run_status(folder, run.config)[1]
        result.save(path)
    ckpt.unlink(missing_ok=True)
    return ("resumed" if resumed else "ran"), result


# -------------------------------------------------------------------------------------- table
def table_rows(runs, folder, metric=None):
    """One dict per table cell: ours (mean, std over the runs found), the paper's, diff, within.
    ``metric=None``: each run's own (EMA weights; Temporal Ensembling's raw network)."""
    from mtlib.book.tables import mean_std    # here, not at the top: scipy and pandas cost every run ~2 s
    scanned = scan_results(folder) if Path(folder).is_dir() else {}
    cells = {}
    for r in runs:
        cell = cells.setdefault((r.row, r.col), {"row": r.row, "labels": r.col, "expected": 0, "values": [],
                                                "paper": r.paper or (None, None),
                                                "metric": metric or r.metric})
        cell["expected"] += 1
        result = run_status(folder, r.config, scanned)[1]
        if result is not None and result.final.get(cell["metric"]) is not None:
            cell["values"].append(result.final[cell["metric"]])
    for cell in cells.values():
        cell["done"] = len(cell["values"])
        cell["mean"], cell["std"] = mean_std(cell["values"])
        cell["diff"] = (cell["mean"] - cell["paper"][0] if cell["mean"] is not None
                        and cell["paper"][0] is not None else None)
        cell["within"] = abs(cell["diff"]) <= cell["paper"][1] \
            if cell["diff"] is not None and cell["paper"][1] is not None else None
    return list(cells.values())


def format_table(title, rows, folder):
    from mtlib.book.tables import fmt
    metrics = ", ".join(sorted({r["metric"] for r in rows}))
    lines = [title, f"results: {folder}   metric: {metrics} (%)   within: |ours - paper| <= the paper's std", ""]
    width = max([len("cell")] + [len(r["row"] + (" [raw]" if r["metric"].startswith("student") else "")) for r in rows])
    head = f"{'cell':<{width}}  {'labels':>6}  {'runs':>5}  {'ours':>15}  {'paper':>15}  {'diff':>7}  within"
    lines += [head, "-" * len(head)]
    for r in rows:
        ours = fmt(r["mean"], r["std"])
        paper = fmt(*r["paper"]) if r["paper"][0] is not None else "—"
        diff = f"{r['diff']:+.2f}" if r["diff"] is not None else "—"
        row = r["row"] + (" [raw]" if r["metric"].startswith("student") else "")
        lines.append(f"{row:<{width}}  {r['labels']:>6}  {r['done']:>2}/{r['expected']:<2}  {ours:>15}  "
                     f"{paper:>15}  {diff:>7}  {({True: 'yes', False: 'no', None: '—'})[r['within']]}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- CLI
def build_parser():
    ap = argparse.ArgumentParser(prog="python -m mtlib.reproduce", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Presets: " + ", ".join(PRESETS))
    sub = ap.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print the presets, how many runs each has and how many are done")
    listing.add_argument("--results", type=Path, default=None,
                         help="count the finished runs in this folder (default: each preset's scale's folder)")
    run = sub.add_parser("run", help="run a preset's (selected, sharded) runs; skip finished ones")
    add_selection(run, checkpoints=True)
    run.add_argument("--shard", default=None, metavar="i/n", help="run only runs i, i+n, i+2n, ... (0 <= i < n)")
    run.add_argument("--via", choices=("direct", "papermill"), default="direct",
                     help="direct: train in this process (default); papermill: execute the chapter notebook")
    run.add_argument("--notebooks", type=Path, default=None, help="folder of the chapter notebooks (papermill)")
    run.add_argument("--kernel", default=None, help="Jupyter kernel for papermill (default: the notebook's)")
    run.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    run.add_argument("--progress", action="store_true", help="show a progress bar per run")
    table = sub.add_parser("table", help="mean ± std per cell beside the paper's")
    add_selection(table)
    table.add_argument("--metric", default=None, help="final metric of every cell (default: each run's own: ema_test_error; TE's student_test_error)")
    return ap


def cmd_list(args, out):
    """One line per preset: its runs, how many of them have a matching results file (``--results``, or
    the preset's scale's folder: what a resumed ``run`` would skip) and its title; a preset waiting for
    values validation has not chosen yet says which (``mtlib.scales.NotChosenYet``) instead."""
    scanned = {}
    for name, p in PRESETS.items():
        try:
            runs = list(p.runs())
        except NotChosenYet as e:
            print(f"{name:<32}    - runs            {p.title}  [waits for CPU_GRIDS: {', '.join(e.entries)}]", file=out)
            continue
        folder = Path(args.results) if args.results else default_results_dir(p.scale)
        if folder not in scanned:
            scanned[folder] = scan_results(folder) if folder.is_dir() else {}
        done = sum(result_status(folder, r.config, scanned=scanned[folder])[0] == MATCHING for r in runs)
        print(f"{name:<32} {len(runs):>4} runs {done:>4} done  {p.title}", file=out)
    return 0


def cmd_run(args, out):
    runs, folder = select(args, parse_shard(args.shard))
    for r in runs:       # RunConfig validates --checkpoint-every before anything runs
        run_config(r, folder, args.checkpoint_every)
    if args.dry_run:
        scanned = scan_results(folder) if folder.is_dir() else {}
        for r in runs:
            print(f"{run_status(folder, r.config, scanned)[0]:>5}  {r.name}  -> "
                  f"{result_path(folder, r.config).name}", file=out)
        return 0
    check_writable(folder)
    scanned = scan_results(folder)
    for r in runs:       # refuse before running anything if a file in the way is foreign or old
        run_status(folder, r.config, scanned)
        if args.via == "papermill":
            notebook_path(r, args.notebooks)
    cache, counts = DataCache(), {}
    with graceful_stop() as should_stop:
        for k, r in enumerate(runs, 1):
            print(f"[{k}/{len(runs)}] {r.name}", end=" ... ", file=out, flush=True)
            try:
                status, result = run_one(r, folder, args.checkpoint_every, via=args.via, notebooks=args.notebooks,
                                         data_cache=cache, progress=args.progress, should_stop=should_stop,
                                         kernel=args.kernel)
            except Stopped as e:
                print(f"{e}. Re-run the same command to resume.", file=out, flush=True)
                return EXIT_STOPPED
            counts[status] = counts.get(status, 0) + 1
            value = result.final.get(r.metric)
            print(status + (f" ({r.metric} {value:.2f}%)" if value is not None else ""), file=out, flush=True)
    print(f"{len(runs)} run(s) into {folder}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
          file=out)
    return 0


def cmd_table(args, out):
    runs, folder = select(args)
    preset = get_preset(args.preset)
    print(format_table(preset.title, table_rows(runs, folder, args.metric), folder), file=out)
    return 0


def main(argv=None, out=None):
    args = build_parser().parse_args(argv)
    try:
        return {"list": cmd_list, "run": cmd_run, "table": cmd_table}[args.command](args, out or sys.stdout)
    except (ReproduceError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
