"""Compute the book's CPU-scale runs once, in priority order, from several worker processes.

Each worker walks the same list and claims a run with an exclusive lock file, so two workers
never train the same run; finished runs are results files that the chapters then load.
    python research/precompute.py --groups tables mean_teacher curves   (start it twice for 2 cores)
"""
import argparse
import os
from pathlib import Path

from mtlib.config import RunConfig
from mtlib.scales import CPU_SCALE
from mtlib.results import result_path
from mtlib.runs import results_dir, run_or_load

BASE = RunConfig(**CPU_SCALE)
SEEDS = [0, 1]


def groups():
    g = {}
    g["tables"] = [BASE.replace(method=m, n_labels=n, seed=s)
                   for n in (100, 400) for m in ("supervised", "mean_teacher", "pi", "temporal_ensembling")
                   for s in SEEDS]
    mt = BASE.replace(method="mean_teacher")
    aug_off = dict(translate=0, flip=False)
    # Figure 4 (book/ablations.ipynb), seed 0; the Mean Teacher chapter's sliders reuse (c) and (d)
    g["ablations"] = ([mt.replace(ema_decay=a) for a in (0.0, 0.9, 0.999)]
                      + [mt.replace(consistency_weight=w) for w in (0.0, 1.0, 30.0)]
                      + [mt.replace(input_noise=v) for v in (0.0, 0.3)]
                      + [mt.replace(input_noise=v, **aug_off) for v in (0.0, 0.15, 0.3)]
                      + [mt.replace(dropout=0.0), mt.replace(dropout=0.0, **aug_off)]
                      + [mt.replace(two_heads=True, logit_distance_weight=v) for v in (0.01, 0.1, 1.0)]
                      + [mt.replace(consistency_tau=v) for v in (0.5, 1.0)])
    # Figure 3 (book/training_curves.ipynb): every training image labeled, consistency on all
    g["curves"] = [BASE.replace(method=m, n_labels=BASE.max_train, labeled_per_batch=None,
                                consistency_on="all", seed=s) for m in ("pi", "mean_teacher") for s in SEEDS]
    return g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", nargs="*", default=["tables", "ablations", "curves"])
    args = ap.parse_args()
    out = results_dir("cpu")
    out.mkdir(parents=True, exist_ok=True)
    all_groups = groups()
    for name in args.groups:
        for cfg in all_groups[name]:
            path = result_path(out, cfg.to_dict())
            lock = Path(str(path) + ".lock")
            if path.exists():
                continue
            try:
                os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
            try:
                r = run_or_load(cfg, out, progress=False)
                print(name, cfg.method, cfg.n_labels, cfg.seed, path.name,
                      r.final["student_test_error"], r.final["ema_test_error"], r.provenance["wall_time_s"], flush=True)
            finally:
                lock.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
