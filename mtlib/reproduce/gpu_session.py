"""One command that turns a lent GPU into committed results (paper scale, Table 2's 4000-label cell).

    python -m mtlib.reproduce.gpu_session --out OUT [--device cuda] [--slice-s 480] [--resume-from DIR]

1. prints the device and the software;
2. runs the step benchmark (``benchmarks/step_speed.py``: fp32 / bf16, compile off / on) into
   ``OUT/benchmark.txt`` (``--no-benchmark`` skips it, e.g. on a resumed slice);
3. runs the CIFAR-10 4000-label Mean Teacher ConvNet-13 preset (``table2-cifar10``, seed 0) through
   ``python -m mtlib.reproduce run`` in ``--work``; after ``--slice-s`` seconds (benchmark included)
   the runner gets SIGTERM, checkpoints at the end of its step and exits; the checkpoint is copied
   to ``OUT`` in parts of at most 15 MiB (``ckpt.partNN``), so a later call given those files back
   (``--resume-from DIR``) goes on exactly where it stopped;
4. appends the preset's table (ours beside the paper's) to ``OUT/session.log``, and once the run is
   finished copies its results file to ``OUT`` with ``OUT/time_to_error.png`` (test error of the EMA
   and the student against training wall time).

``--smoke`` rehearses the same path on any device in seconds (the ``-smoke`` preset, a small
benchmark); CI runs it on the CPU.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PRESET, LABELS, METHOD, SEED = "table2-cifar10", 4000, "mean_teacher", 0
GPU_KNOBS = ("channels_last=True", "precision=bf16")


def _run(cmd, log, timeout=None):
    """Run ``cmd`` with output appended to ``log``; after ``timeout`` s send SIGTERM (the runner
    checkpoints and exits 3), and SIGKILL only if it has not exited 120 s later."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with open(log, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()


def describe_device(device):
    """One line per fact: the device, torch, CUDA and the CPU threads."""
    lines = [f"torch {torch.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs"]
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(device)
        lines.append(f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}")
    else:
        lines.append(f"device: {device}")
    return "\n".join(lines)


def time_to_error(result_file, png):
    """Plot test error (EMA and student) against cumulative training wall time from a results file."""
    data = json.loads(Path(result_file).read_text())
    minutes = [t / 60 for t in data["provenance"]["eval_wall_s"]]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, style in (("ema", "-"), ("student", "--")):
        ax.plot(minutes, [r[f"{name}_test_error"] for r in data["history"]], style, label=name)
    ax.set(xlabel="training wall time (min)", ylabel="test error (%)",
           title=f"{data['config']['dataset']} {data['config']['n_labels']} labels, {data['provenance'].get('device')}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def pack(work, out, part_bytes=15 * 2**20):
    """Copy results files to ``out`` and split each checkpoint into ``<name>.ckpt.partNN`` files."""
    for result in work.glob("*.json"):
        shutil.copy2(result, out / result.name)
    for ckpt in (work / "checkpoints").glob("*.ckpt"):
        blob = ckpt.read_bytes()
        for k in range(0, max(len(blob), 1), part_bytes):
            (out / f"{ckpt.name}.part{k // part_bytes:02d}").write_bytes(blob[k:k + part_bytes])


def unpack(folder, work):
    """Inverse of :func:`pack`: results files back into ``work``, checkpoint parts joined."""
    folder = Path(folder)
    for result in folder.glob("*.json"):
        shutil.copy2(result, work / result.name)
    parts = sorted(folder.glob("*.ckpt.part*"))
    for name in sorted({p.name.rsplit(".part", 1)[0] for p in parts}):
        blob = b"".join(p.read_bytes() for p in parts if p.name.rsplit(".part", 1)[0] == name)
        (work / "checkpoints" / name).write_bytes(blob)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m mtlib.reproduce.gpu_session", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for results, logs, benchmark, figure")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (the smoke rehearsal)")
    ap.add_argument("--slice-s", type=float, default=480.0, help="stop (checkpointed) after this many seconds")
    ap.add_argument("--resume-from", type=Path, default=None,
                    help="the files of a previous call's OUT (checkpoint parts, results file) to go on from")
    ap.add_argument("--work", type=Path, default=REPO / ".gpu" / "work", help="the runner's results folder")
    ap.add_argument("--no-benchmark", action="store_true", help="skip the step benchmark")
    ap.add_argument("--smoke", action="store_true", help="the smoke preset and a tiny benchmark (seconds)")
    args = ap.parse_args(argv)
    if args.slice_s <= 0:
        ap.error(f"--slice-s={args.slice_s} must be > 0 seconds")
    start = time.monotonic()
    out, work = args.out, args.work
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    (work / "checkpoints").mkdir(parents=True)
    if args.resume_from:
        unpack(args.resume_from, work)
    log = out / "session.log"
    print(describe_device(args.device), flush=True)
    with open(log, "a") as f:
        f.write(describe_device(args.device) + "\n")

    py = sys.executable
    if not args.no_benchmark:
        bench = [py, "benchmarks/step_speed.py", "--device", args.device, "--skip-pipeline",
                 "--precisions", "fp32", "fp32-cl", "bf16-cl", "--out", str(out / "benchmark.txt")]
        bench += (["--widths", "0.125", "--image-size", "16", "--steps", "2"] if args.smoke
                  else ["--widths", "1", "--steps", "50", "--compile", "off", "on"])
        rc = _run(bench, log)
        print(f"benchmark: exit {rc}, {out / 'benchmark.txt'}", flush=True)

    preset = PRESET + ("-smoke" if args.smoke else "")
    select = [preset, "--labels", str(LABELS), "--methods", METHOD, "--seeds", str(SEED),
              "--override", f"device={args.device}", *(GPU_KNOBS if args.device.startswith("cuda") else ()),
              "--results", str(work)]
    left = args.slice_s - (time.monotonic() - start)
    rc = _run([py, "-m", "mtlib.reproduce", "run", *select, "--checkpoint-every", "2000"], log, timeout=max(left, 1.0))
    status = {0: "finished", 3: "stopped at the slice's end (checkpointed): call again with --resume-from"}
    print(f"run: {status.get(rc, f'failed with exit {rc}, see {log}')}", flush=True)
    _run([py, "-m", "mtlib.reproduce", "table", *select], log)
    pack(work, out)
    for result in sorted(out.glob("*.json")):
        time_to_error(result, out / "time_to_error.png")
    print(f"session: {time.monotonic() - start:.0f} s; files in {out}", flush=True)
    return 0 if rc in (0, 3) else rc


if __name__ == "__main__":
    sys.exit(main())
