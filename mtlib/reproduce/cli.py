"""Paper-scale reproduction: expand a preset into runs, run (a shard of) them, print the table.

    python -m mtlib.reproduce list
    python -m mtlib.reproduce run table2-cifar10 --labels 4000 --methods mean_teacher --shard 0/8
    python -m mtlib.reproduce table table2-cifar10

``run`` writes one results file per run into ``--results`` (default ``book/results/paper``,
named by mtlib.results.result_path), SKIPS runs whose results file exists for the same identity
and mtlib version, RESUMES an interrupted run from its checkpoint (``<results>/checkpoints``,
every ``--checkpoint-every`` steps, and at the end of the current step on SIGTERM / Ctrl-C), and
never overwrites or deletes a results file. ``--shard i/n`` takes runs i, i+n, i+2n, ... of the
selection, so the n tasks of a Slurm job array fill a table together. ``--via direct`` (default)
trains in-process with mtlib.training.trainer; ``--via papermill`` executes the run's chapter notebook
with the run's parameters and keeps the executed notebook beside the results file.
"""
import argparse
import ast
import os
import signal
import sys
import tempfile
from pathlib import Path

import mtlib
from mtlib.config import RunConfig
from mtlib.reproduce.presets import PRESETS, get_preset
from mtlib.results import identity, load_result, result_path, run_key
from mtlib.runs import DataCache, results_dir as default_results_dir
from mtlib.book.tables import mean_std

REPO = Path(mtlib.__file__).resolve().parent.parent
EXIT_ERROR, EXIT_STOPPED = 2, 3


class ReproduceError(Exception):
    """Bad input or a state of the results folder that the runner refuses to touch."""


class Stopped(Exception):
    """A run was stopped (SIGTERM / Ctrl-C) after a checkpoint was written."""


# ------------------------------------------------------------------------------------ parsing
def parse_override(items):
    """``["steps=6", "classes=['cat','dog']"]`` -> dict; values are Python literals, else strings."""
    known = set(RunConfig.__dataclass_fields__)
    out = {}
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
    if text is None:
        return 0, 1
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ReproduceError(f"--shard {text!r} is not i/n (e.g. --shard 0/4 for the first of 4 shards)") from None
    if n < 1 or not 0 <= i < n:
        raise ReproduceError(f"--shard {text!r}: need n >= 1 and 0 <= i < n")
    return i, n


def select_runs(preset, seeds=None, labels=None, methods=None, variants=None, override=None, shard=(0, 1)):
    """The preset's selected runs, without duplicate identities, then every n-th from i."""
    try:
        runs = list(get_preset(preset).runs(seeds=seeds, labels=labels, methods=methods,
                                            variants=variants, override=override))
    except ValueError as e:
        raise ReproduceError(str(e)) from None
    seen, unique = set(), []
    for r in runs:
        key = run_key(r.config)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    i, n = shard
    return unique[i::n]


# --------------------------------------------------------------------------- results folder
def check_writable(folder):
    """Create ``folder`` if needed and prove we can write there; ReproduceError otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ReproduceError(f"results folder {folder} is not writable ({e.strerror or e}); "
                             "choose another with --results DIR") from None


def scan_results(folder):
    """Read every ``*.json`` in ``folder``; a malformed or foreign one is an error naming it."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            result = load_result(path)
            key = run_key(result.config)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ReproduceError(f"{path} is not a readable mtlib results file ({e}); it is left untouched: "
                                 "move it out of the results folder (or use another --results DIR)") from None
        found[path.name] = result
    return found


def run_status(folder, config, scanned=None):
    """("done", result) | ("todo", None) for one run; a file at its path made by another mtlib version or
    for other parameters raises ReproduceError (it is never overwritten)."""
    path = result_path(folder, config)
    if scanned is not None:
        result = scanned.get(path.name)
    else:
        result = load_result(path) if path.exists() else None
    if result is None:
        return "todo", None
    version = result.provenance.get("mtlib_version")
    if identity(result.config) != identity(config):
        raise ReproduceError(f"{path} holds a run with other parameters than {path.stem}; it is never "
                             "overwritten: move it away")
    if version != mtlib.__version__:
        raise ReproduceError(f"{path} was made by mtlib {version}, this is mtlib {mtlib.__version__}; "
                             "it is never overwritten: move it (or the folder) away to re-run")
    return "done", result


# ------------------------------------------------------------------------------------- running
class _GracefulStop:
    """SIGTERM / SIGINT set a flag; the run checkpoints at the end of the current step and stops."""

    def __init__(self):
        self.requested, self._old = False, {}

    def __enter__(self):
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:      # not the main thread: no handlers, plain behaviour
            self._old = {}
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _stop_after_step(trainer, stop):
    """Wrap ``trainer.train_step``: after a step, if a stop was requested, finish the step's
    evaluation (as the loop would), write the checkpoint and raise Stopped."""
    step_fn = trainer.train_step

    def train_step():
        stats = step_fn()
        if stop.requested:
            cfg = trainer.cfg
            if cfg.eval_every and trainer.step % cfg.eval_every == 0 and trainer.step < cfg.steps:
                trainer.evaluate_now()
            trainer.save_checkpoint()
            raise Stopped(f"stopped at step {trainer.step}/{cfg.steps}; checkpoint {trainer.checkpoint_path}")
        return stats

    trainer.train_step = train_step


def run_papermill(run, folder, cfg, notebook, kernel=None):
    """Execute ``notebook`` for this one run; the notebook saves the results file itself."""
    try:
        import papermill as pm
    except ImportError:
        raise ReproduceError("--via papermill needs papermill (pip install papermill)") from None
    folder = Path(folder).resolve()
    params = {**cfg.to_dict(), "seeds": [cfg.seed], "label_counts": [cfg.n_labels], "methods": [cfg.method],
              "results_scale": folder.name, "retrain": False, "check_claims": False}
    out = result_path(folder, cfg.to_dict()).with_suffix(".ipynb")
    old = os.environ.get("MTLIB_RESULTS")
    os.environ["MTLIB_RESULTS"] = str(folder.parent)     # results_dir(results_scale) == folder
    try:
        pm.execute_notebook(str(notebook), str(out), parameters=params, cwd=str(Path(notebook).parent),
                            kernel_name=kernel, progress_bar=False)
    finally:
        if old is None:
            os.environ.pop("MTLIB_RESULTS", None)
        else:
            os.environ["MTLIB_RESULTS"] = old
    path = result_path(folder, cfg.to_dict())
    if not path.exists():
        raise ReproduceError(f"{notebook} ran for {run.name} but wrote no results file {path.name}; its "
                             "parameters cell must take every RunConfig knob plus seeds/label_counts/methods/"
                             "results_scale and save through mtlib.runs.run_or_load")
    return load_result(path), out


def run_one(run, folder, checkpoint_every, via="direct", notebooks=None, data_cache=None,
            progress=False, stop=None, kernel=None):
    """Run one PresetRun into ``folder`` unless its results file exists; return (status, result)."""
    folder = Path(folder)
    status, result = run_status(folder, run.config)
    if status == "done":
        return "skipped", result
    cfg = RunConfig.from_dict({**run.config, "checkpoint_dir": str(folder / "checkpoints"),
                               "checkpoint_every": checkpoint_every})
    ckpt = Path(cfg.checkpoint_dir) / f"{run_key(cfg.to_dict())}.ckpt"
    resumed = ckpt.exists()
    if via == "papermill":
        from mtlib.training.trainer import Trainer  # noqa: F401  (import errors surface before the kernel starts)
        notebook = notebook_path(run, notebooks)
        result, _ = run_papermill(run, folder, cfg, notebook, kernel=kernel)
    else:
        from mtlib.training.trainer import Trainer
        trainer = Trainer(cfg, (data_cache or DataCache()).get(cfg))
        trainer.resume()
        start = trainer.step
        if stop is not None:
            _stop_after_step(trainer, stop)
        result = trainer.run(progress=progress, resume=False)
        result.provenance.update(preset_run=run.name, via="direct", resumed_from_step=start)
        path = result_path(folder, cfg.to_dict())
        if path.exists():      # another shard finished it meanwhile: keep theirs, never overwrite
            return "skipped", run_status(folder, run.config)[1]
        result.save(path)
    if ckpt.exists():
        ckpt.unlink()
    return ("resumed" if resumed else "ran"), result


def notebook_path(run, notebooks=None):
    nb = Path(notebooks) / Path(run.notebook).name if notebooks else REPO / run.notebook
    if not nb.exists():
        raise ReproduceError(f"chapter notebook {nb} for {run.name} does not exist; use --via direct "
                             "or --notebooks DIR")
    return nb


# --------------------------------------------------------------------------------------- table
def table_rows(preset, folder, seeds=None, labels=None, methods=None, variants=None, override=None,
               metric=None):
    """One dict per table cell: ours (mean, std over the runs found), the paper's, diff, within."""
    runs = select_runs(preset, seeds, labels, methods, variants, override)
    metric = metric or get_preset(preset).metric
    folder = Path(folder)
    scanned = scan_results(folder) if folder.is_dir() else {}
    cells = {}
    for r in runs:
        cell = cells.setdefault((r.row, r.col), {"row": r.row, "labels": r.col, "expected": 0, "done": 0,
                                                "values": [], "paper": r.paper, "needs": r.needs})
        cell["expected"] += 1
        status, result = run_status(folder, r.config, scanned)
        if status == "done" and result.final.get(metric) is not None:
            cell["done"] += 1
            cell["values"].append(result.final[metric])
    rows = []
    for cell in cells.values():
        mean, std = mean_std(cell.pop("values") or [])
        pm, ps = cell["paper"] or (None, None)
        diff = mean - pm if mean is not None and pm is not None else None
        within = (abs(diff) <= ps) if diff is not None and ps is not None else None
        rows.append({**cell, "mean": mean, "std": std,
                     "paper_mean": pm, "paper_std": ps, "diff": diff, "within": within})
    return rows


def format_table(preset, rows, folder, metric):
    p = get_preset(preset)

    def ms(m, s):
        return "not run yet" if m is None else (f"{m:.2f}" if s is None else f"{m:.2f} ± {s:.2f}")

    lines = [p.title, f"results: {folder}   metric: {metric} (%)   "
             "within: |ours - paper| <= the paper's std", ""]
    width = max([len("cell")] + [len(r["row"]) for r in rows])
    head = f"{'cell':<{width}}  {'labels':>6}  {'runs':>5}  {'ours':>15}  {'paper':>15}  {'diff':>7}  within"
    lines += [head, "-" * len(head)]
    for r in rows:
        ours = ms(r["mean"], r["std"]) if not r["needs"] or r["mean"] is not None else "needs data"
        paper = ms(r["paper_mean"], r["paper_std"]) if r["paper_mean"] is not None else "—"
        diff = f"{r['diff']:+.2f}" if r["diff"] is not None else "—"
        within = {True: "yes", False: "no", None: "—"}[r["within"]]
        lines.append(f"{r['row']:<{width}}  {r['labels']:>6}  {r['done']:>2}/{r['expected']:<2}  {ours:>15}  "
                     f"{paper:>15}  {diff:>7}  {within}")
    if any(r["needs"] for r in rows):
        needs = sorted({r["needs"] for r in rows if r["needs"]})
        lines += ["", "needs data: " + "; ".join(needs)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- CLI
def build_parser():
    ap = argparse.ArgumentParser(prog="python -m mtlib.reproduce", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Presets: " + ", ".join(PRESETS))
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the presets and how many runs each has")

    def selection(p):
        p.add_argument("preset", help="a preset name (see `list`)")
        p.add_argument("--seeds", type=int, nargs="+", help="seeds to run (default: the paper's count, from 0)")
        p.add_argument("--labels", type=int, nargs="+", help="label counts (default: all of the preset's)")
        p.add_argument("--methods", nargs="+", help="methods (default: all of the preset's)")
        p.add_argument("--variants", nargs="+", help="variants of a sweep / Table 3 (default: all)")
        p.add_argument("--override", nargs="+", default=[], metavar="KEY=VALUE",
                       help="set RunConfig parameters on every run (changes the runs' identity)")
        p.add_argument("--results", type=Path, default=None,
                       help="results folder (default: book/results/paper, or $MTLIB_RESULTS/paper)")

    run = sub.add_parser("run", help="run a preset's (selected, sharded) runs; skip finished ones")
    selection(run)
    run.add_argument("--shard", default=None, metavar="i/n", help="run only runs i, i+n, i+2n, ... (0 <= i < n)")
    run.add_argument("--via", choices=("direct", "papermill"), default="direct",
                     help="direct: train in this process (default); papermill: execute the chapter notebook")
    run.add_argument("--notebooks", type=Path, default=None, help="folder of the chapter notebooks (papermill)")
    run.add_argument("--kernel", default=None, help="Jupyter kernel for papermill (default: the notebook's)")
    run.add_argument("--checkpoint-every", type=int, default=1000, help="steps between checkpoints (default 1000)")
    run.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    run.add_argument("--progress", action="store_true", help="show a progress bar per run")

    table = sub.add_parser("table", help="mean ± std per cell beside the paper's")
    selection(table)
    table.add_argument("--metric", default=None, help="final metric (default: the preset's, e.g. ema_test_error)")
    return ap


def cmd_list(out):
    for name, p in PRESETS.items():
        runs = list(p.runs())
        needs = sum(r.needs is not None for r in runs)
        extra = f", {needs} need data mtlib lacks" if needs else ""
        print(f"{name:<32} {len(runs):>4} runs{extra}  {p.title}", file=out)


def cmd_run(args, out):
    override = parse_override(args.override)
    runs = select_runs(args.preset, args.seeds, args.labels, args.methods, args.variants, override,
                       parse_shard(args.shard))
    blocked = [r for r in runs if r.needs]
    if blocked:
        names = ", ".join(r.name for r in blocked[:3]) + (" ..." if len(blocked) > 3 else "")
        raise ReproduceError(f"{len(blocked)} selected run(s) ({names}) need {blocked[0].needs}. Nothing was run; "
                             "select runnable ones with --variants (e.g. --variants extra0)")
    folder = Path(args.results) if args.results else default_results_dir("paper")
    if args.checkpoint_every < 0:
        raise ReproduceError(f"--checkpoint-every {args.checkpoint_every} must be >= 0 (0: no checkpoints)")
    if args.dry_run:
        scanned = scan_results(folder) if folder.is_dir() else {}
        for r in runs:
            print(f"{run_status(folder, r.config, scanned)[0]:>5}  {r.name}  -> "
                  f"{result_path(folder, r.config).name}", file=out)
        return 0
    check_writable(folder)
    scanned = scan_results(folder)
    for r in runs:       # refuse before running anything if a file in the way is foreign/old
        run_status(folder, r.config, scanned)
    if args.via == "papermill":
        for r in runs:
            notebook_path(r, args.notebooks)
    cache, counts = DataCache(), {}
    with _GracefulStop() as stop:
        for k, r in enumerate(runs, 1):
            print(f"[{k}/{len(runs)}] {r.name}", end=" ... ", file=out, flush=True)
            try:
                status, result = run_one(r, folder, args.checkpoint_every, via=args.via,
                                         notebooks=args.notebooks, data_cache=cache,
                                         progress=args.progress, stop=stop, kernel=args.kernel)
            except Stopped as e:
                print(f"{e}. Re-run the same command to resume.", file=out, flush=True)
                return EXIT_STOPPED
            counts[status] = counts.get(status, 0) + 1
            metric = get_preset(args.preset).metric
            value = result.final.get(metric)
            print(f"{status}" + (f" ({metric} {value:.2f}%)" if value is not None else ""), file=out, flush=True)
    print(f"{len(runs)} run(s) into {folder}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
          file=out)
    return 0


def cmd_table(args, out):
    override = parse_override(args.override)
    folder = Path(args.results) if args.results else default_results_dir("paper")
    metric = args.metric or get_preset(args.preset).metric
    rows = table_rows(args.preset, folder, args.seeds, args.labels, args.methods, args.variants, override, metric)
    print(format_table(args.preset, rows, folder, metric), file=out)
    return 0


def main(argv=None, out=None):
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            cmd_list(out)
            return 0
        return {"run": cmd_run, "table": cmd_table}[args.command](args, out)
    except (ReproduceError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
