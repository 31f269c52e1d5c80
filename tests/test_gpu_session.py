"""The GPU session command, rehearsed on the CPU at the smoke scale (same code path, device=cpu)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from mtlib.reproduce import gpu_session


def test_pack_and_unpack_split_and_join_checkpoints(tmp_path):
    work, out, back = tmp_path / "work", tmp_path / "out", tmp_path / "back"
    for folder in (work / "checkpoints", out, back / "checkpoints"):
        folder.mkdir(parents=True)
    blob = os.urandom(2500)
    (work / "checkpoints" / "abc.ckpt").write_bytes(blob)
    (work / "r.json").write_text("{}")
    gpu_session.pack(work, out, part_bytes=1000)
    assert sorted(p.name for p in out.iterdir()) == ["abc.ckpt.part00", "abc.ckpt.part01", "abc.ckpt.part02", "r.json"]
    assert max(p.stat().st_size for p in out.iterdir()) == 1000
    gpu_session.unpack(out, back)
    assert (back / "checkpoints" / "abc.ckpt").read_bytes() == blob
    assert (back / "r.json").read_text() == "{}"


def session(out, work, *extra):
    """scripts/gpu_session.sh, as a lent GPU runs it, here with device=cpu at the smoke scale."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "gpu_session.sh"
    cmd = ["bash", str(script), str(out), "--work", str(work), "--device", "cpu", "--smoke", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHON": sys.executable})


def test_smoke_session_on_cpu_writes_results_benchmark_and_curve(cifar_root, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    done = session(out, work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "device: cpu" in done.stdout and "run: finished" in done.stdout
    bench = (out / "benchmark.txt").read_text()
    assert "fp32, 16x16" in bench and "bf16-cl, 16x16" in bench and "mtlib/bare" in bench
    results = sorted(out.glob("*.json"))
    assert len(results) == 1
    data = json.loads(results[0].read_text())
    assert data["config"]["method"] == "mean_teacher" and data["config"]["device"] == "cpu"
    walls = data["provenance"]["eval_wall_s"]
    assert len(walls) == len(data["history"]) and walls == sorted(walls) and walls[0] >= 0
    assert (out / "time_to_error.png").stat().st_size > 0
    log = (out / "session.log").read_text()
    assert "table2-cifar10-smoke" in log and "Table 2" in log
    # a second call given the first call's files back finds the run done and does not train again
    again = session(tmp_path / "out2", work, "--resume-from", str(out), "--no-benchmark")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "skipped" in (tmp_path / "out2" / "session.log").read_text()
