"""Search for CPU-scale settings where the paper's effects show (book introduction, issue 3).

Each named candidate is a base RunConfig; every method in --methods runs on it for each seed,
and the results files land in --out (default book/results/research). Re-running skips runs
whose file exists. Summary: python research/cpu_scale.py --summary
"""
import argparse
import json
import time
from pathlib import Path

import torch

from mtlib.config import RunConfig
from mtlib.results import load_result
from mtlib.runs import run_or_load
from mtlib.scales import CPU_SCALE

CPU = dict(width=0.125, image_size=16, translate=1, eval_every=250, max_test=2000, threads=1)
COMMON = dict(batch_size=100, steps=3000, rampup_steps=1000, rampdown_steps=500, ema_decay=0.99,
              consistency_on="unlabeled", consistency_weight=10.0)
CANDIDATES = {
    # 10 classes, 1000 labels, all 50k images, half of each batch labeled
    "c10-1000": dict(COMMON, n_labels=1000, labeled_per_batch=50),
    # a small unlabeled pool seen many times: 250 labels in 5000 images
    "c10-250-5k": dict(COMMON, n_labels=250, max_train=5000, labeled_per_batch=25),
    # an easier 4-class problem with few labels
    "c4-100-8k": dict(COMMON, classes=CPU_SCALE["classes"], n_labels=100,
                      max_train=8000, labeled_per_batch=20),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    ap.add_argument("--methods", nargs="*", default=["supervised", "mean_teacher"])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--set", nargs="*", default=[], help="overrides name=json_value applied to every run")
    ap.add_argument("--out", default="book/results/research")
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    if args.summary:
        return summary(args.out)
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    for name in args.candidates:
        for seed in args.seeds:
            for method in args.methods:
                cfg = RunConfig(**{**CPU, **CANDIDATES[name], **extra, "method": method, "seed": seed})
                t = time.time()
                r = run_or_load(cfg, args.out, progress=args.progress)
                print(f"{name} {method} seed{seed}: student {r.final['student_test_error']:.1f} "
                      f"ema {r.final['ema_test_error']:.1f} ({time.time() - t:.0f} s, "
                      f"{r.provenance['images_per_s']} img/s)", flush=True)


def summary(out):
    rows = []
    for p in sorted(Path(out).glob("*.json")):
        r = load_result(p)
        c = r.config
        rows.append((c.get("classes") and len(c["classes"]) or 10, c["n_labels"], c.get("max_train"), c["steps"],
                     c["width"], c["consistency_weight"], c["ema_decay"], c["method"], c["seed"],
                     r.final["student_test_error"], r.final["ema_test_error"], r.provenance["wall_time_s"]))
    print("classes labels max_train steps width w alpha method seed student ema wall_s")
    for row in sorted(rows):
        print(*row)


if __name__ == "__main__":
    main()
