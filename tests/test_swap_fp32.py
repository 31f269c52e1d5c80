"""research/swap_fp32.py moves nothing until every rerun exists, then swaps each file."""
import importlib.util
from pathlib import Path

from mtlib.results import RunResult, result_path

spec = importlib.util.spec_from_file_location("swap_fp32", Path(__file__).resolve().parents[1] / "research" / "swap_fp32.py")
swap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(swap)


def _file(folder, seed, precision):
    cfg = {"dataset": "cifar10", "method": "pi", "n_labels": 100, "seed": seed}
    path = result_path(folder, cfg)
    RunResult(config=cfg, final={"ema_test_error": 30.0 + seed}, provenance={"precision": precision}).save(path)
    return path.name


def test_refuses_while_a_rerun_is_missing_then_swaps(tmp_path):
    cpu, reruns = tmp_path / "cpu", tmp_path / "reruns"
    names = [_file(cpu, 0, "bf16"), _file(cpu, 1, "fp32")]
    _file(reruns, 0, "fp32")
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(names) + "\n")
    common = ["--list", str(listing), "--cpu", str(cpu), "--reruns", str(reruns),
              "--bf16", str(tmp_path / "bf16"), "--unlogged", str(tmp_path / "unlogged")]
    assert swap.main(common) == 2 and sorted(p.name for p in cpu.iterdir()) == sorted(names)   # nothing moved
    _file(reruns, 1, "fp32")
    assert swap.main(common) == 0
    assert (tmp_path / "bf16" / names[0]).exists() and (tmp_path / "unlogged" / names[1]).exists()
    assert not any(reruns.glob("*.json"))
    assert all(swap.load_result(cpu / n).provenance["precision"] == "fp32" for n in names)
