"""Swap the CPU-scale evidence to the float32 reruns, once every rerun of a list exists.

Each file named in ``--list`` (default ``rerun_files.txt``) has its rerun in ``--reruns``; the
original in ``--cpu`` moves to ``--bf16`` (made in bf16) or ``--unlogged`` (fp32, made before the
targets' accuracy was logged), and the rerun takes its place. Refuses, moving nothing, while any
rerun is missing or a rerun's identity differs from its original::

    python research/swap_fp32.py --dry-run
"""
import argparse
import shutil
import sys
from pathlib import Path

from mtlib.results import load_result, run_key

HERE = Path(__file__).resolve().parent
BOOK = HERE.parent / "book" / "results"


def plan(names, cpu, reruns, bf16, unlogged):
    """[(original, where it goes, rerun)] for every name; ValueError listing what is missing or wrong."""
    moves, problems = [], []
    for name in names:
        original, rerun = Path(cpu) / name, Path(reruns) / name
        if not rerun.exists():
            problems.append(f"no rerun of {name}")
            continue
        if not original.exists():
            problems.append(f"no original of {name} in {cpu}")
            continue
        old, new = load_result(original), load_result(rerun)
        if run_key(old.config) != run_key(new.config) or new.provenance.get("precision") != "fp32":
            problems.append(f"{name}: the rerun is not the same run in fp32")
            continue
        target = Path(bf16 if old.provenance.get("precision") == "bf16" else unlogged) / name
        moves.append((original, target, rerun))
    if problems:
        raise ValueError(f"{len(problems)} of {len(names)} not ready, nothing moved: " + "; ".join(problems[:10])
                         + (" ..." if len(problems) > 10 else ""))
    return moves


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", default=str(HERE / "rerun_files.txt"))
    ap.add_argument("--cpu", default=str(BOOK / "cpu"))
    ap.add_argument("--reruns", default=str(BOOK / "fp32-reruns"))
    ap.add_argument("--bf16", default=str(BOOK / "research-bf16"))
    ap.add_argument("--unlogged", default=str(BOOK / "research-fp32-unlogged"))
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    names = [line.strip() for line in Path(args.list).read_text().splitlines() if line.strip()]
    try:
        moves = plan(names, args.cpu, args.reruns, args.bf16, args.unlogged)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    for original, target, rerun in moves:
        print(f"{original.name}: original -> {target.parent.name}/, rerun -> {original.parent.name}/")
        if not args.dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(original, target)
            shutil.move(rerun, original)
    return 0


if __name__ == "__main__":
    sys.exit(main())
