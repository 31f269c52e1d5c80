"""Seconds per training step of VAT and of Mean Teacher + VAT (a, b) against Mean Teacher, in one run.

The Mean Teacher + VAT chapter's budget rests on these ratios (``mtlib.book.vat_study.ARMS_AT``). Every
arm is the chapter's own config at the CPU scale (``vat_study.arm_values`` at the middle ε of the grid;
Mean Teacher at ``vat_study.baseline_values``), the same data, fp32, ``--threads`` threads; each arm's
``Trainer.train_step`` is timed ``--steps`` steps after 3 warm-up steps, the arms in turn, ``--reps``
times, and the fastest repetition is kept.

    python benchmarks/vat_step_cost.py --steps 40 --reps 2 --threads 1
"""
import argparse
import time

import torch

from mtlib.book import vat_study
from mtlib.config import RunConfig
from mtlib.data import load_data
from mtlib.machine import cpu_capability
from mtlib.scales import CPU_GRIDS, CPU_SCALE
from mtlib.training.trainer import Trainer

WARMUP = 3


def arm_configs():
    """{arm: RunConfig}: Mean Teacher first (the baseline), then the three VAT arms."""
    base = RunConfig(**CPU_SCALE).replace(n_val=CPU_GRIDS["validation_n_val"], seed=0, precision="fp32")
    epsilon = CPU_GRIDS["vat_epsilons"][len(CPU_GRIDS["vat_epsilons"]) // 2]
    configs = {"mean_teacher": base.replace(**vat_study.baseline_values("mean_teacher"))}
    configs.update({arm: base.replace(**vat_study.arm_values(arm, epsilon)) for arm in vat_study.ARMS})
    return configs


def seconds_per_step(trainer, steps):
    for _ in range(WARMUP):
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - start) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per arm and repetition")
    parser.add_argument("--reps", type=int, default=2, help="repetitions of every arm; the fastest is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.reps < 1 or args.threads < 1:
        parser.error(f"--steps, --reps and --threads must be at least 1 (got {args.steps}, {args.reps}, {args.threads})")
    torch.set_num_threads(args.threads)
    configs = arm_configs()
    data = load_data(configs["mean_teacher"])
    best = {}
    for _ in range(args.reps):
        for arm, cfg in configs.items():
            t = seconds_per_step(Trainer(cfg, data), args.steps)
            best[arm] = min(best.get(arm, t), t)
    print(f"CPU {cpu_capability()}, fp32, {args.threads} thread(s), {args.steps} steps x {args.reps}, CPU scale")
    for arm, t in best.items():
        print(f"{vat_study.LABELS[arm]:24s} {t * 1000:7.1f} ms/step  {t / best['mean_teacher']:.2f}x Mean Teacher")
    return best


if __name__ == "__main__":
    main()
