"""Re-run committed CPU-scale results files in float32 on the same seeds: the book's evidence is fp32,
and every run carries the targets' accuracy (logged since the bf16 runs and the first fp32 ones).

Reads each results file named in ``--list`` (one file name per line, in priority order, from
``--from``; ``bf16_files.txt`` lists the 156 made in bf16), trains the same run (same identity:
precision is not part of it) with ``precision="fp32"`` and 1 thread, and writes the new file into
``--out``. Sharded (``--shard i/n``
takes lines i, i+n, ...), resumable (checkpoints in ``<out>/checkpoints``; a finished file is skipped)
and stoppable with SIGTERM at the end of a step::

    for i in 0 1; do PYTHONPATH=. python research/rerun_fp32.py --shard $i/2 & done

(``PYTHONPATH=.``: a script in research/ otherwise imports the installed mtlib, which an editable
install points at whatever tree it was installed from; ``research/queue.sh`` sets it.)
"""
import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

from mtlib.config import RunConfig
from mtlib.reproduce.cli import graceful_stop, parse_shard, run_one
from mtlib.results import load_result, run_key
from mtlib.runs import DataCache
from mtlib.training.trainer import Stopped

HERE = Path(__file__).resolve().parent
BOOK = HERE.parent / "book" / "results"


def fp32_run(path):
    """The run of results file ``path`` as a preset-like run, in float32 on one thread."""
    old = load_result(path)
    config = RunConfig.from_dict({**old.config, "precision": "fp32", "threads": 1}).to_dict()
    if run_key(config) != run_key(old.config):
        raise ValueError(f"{path}: the fp32 run would have another identity")
    return SimpleNamespace(config=config, name=f"fp32 rerun of {path.name}", metric="ema_test_error")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", default=str(HERE / "rerun_files.txt"))
    ap.add_argument("--from", dest="source", default=str(BOOK / "cpu"))
    ap.add_argument("--out", default=str(BOOK / "fp32-reruns"))
    ap.add_argument("--shard", default="0/1")
    args = ap.parse_args(argv)
    i, n = parse_shard(args.shard)
    names = [line.strip() for line in Path(args.list).read_text().splitlines() if line.strip()][i::n]
    cache = DataCache()
    with graceful_stop() as should_stop:
        for k, name in enumerate(names, 1):
            src = Path(args.source) / name
            if not src.exists():       # after the swap the bf16 originals live elsewhere
                src = BOOK / "research-bf16" / name
            run = fp32_run(src)
            print(f"[{k}/{len(names)}] {name}", end=" ... ", flush=True)
            try:
                status, result = run_one(run, args.out, 1000, data_cache=cache, should_stop=should_stop)
            except Stopped as e:
                print(f"{e}. Re-run the same command to resume.", flush=True)
                return 3
            print(f"{status} (EMA test error {result.final['ema_test_error']:.2f}%, "
                  f"{result.provenance.get('wall_time_s')} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
