"""The build's data preflight (mtlib.data.fetch): $MTLIB_DATA, else the default folder, else one
download through torchvision; offline it stops with exit code 2 and one message. torchvision's
download is replaced by a local fake: nothing here touches the network or the real ~/.cache."""
import os
import pickle
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from mtlib.data import fetch
from mtlib.data.datasets import CIFAR10_CLASSES, CIFAR10_FORMATS, cifar10_source, load_dataset

ROOT = Path(__file__).resolve().parents[1]
N_PER_BATCH = 4   # images in each of the fake's six batches


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh $HOME (so the default data folder is under tmp_path) and no $MTLIB_DATA."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MTLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MTLIB_DATA", raising=False)
    return tmp_path / "home"


def _write_batches(folder: Path):
    """A tiny cifar-10-batches-py in torchvision's format (pickled dicts; data rows of 3072 bytes)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (N_PER_BATCH, 3072), dtype=np.uint8),
                 "labels": [int(y) for y in rng.integers(0, 10, N_PER_BATCH)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10_CLASSES)}))


class Calls(list):
    """The URLs the fake was asked for; ``error``: what it raises instead of writing."""
    error = None


@pytest.fixture
def fake_download(monkeypatch):
    """Replace what torchvision's CIFAR10.download calls: the archive download writes the tiny batches
    (or raises ``fake_download.error``); the md5 check only asks that the file exists."""
    import torchvision.datasets.cifar as tv_cifar

    calls = Calls()

    def download_and_extract_archive(url, download_root, filename=None, md5=None, **kwargs):
        calls.append(url)
        if calls.error is not None:
            raise calls.error
        _write_batches(Path(download_root) / tv_cifar.CIFAR10.base_folder)

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", download_and_extract_archive)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    return calls


def test_download_path_fetches_once_into_the_default_folder(home, fake_download, capsys):
    default = home / ".cache" / "mtlib" / "data"
    assert fetch.main(["cifar10"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{default}\n" and f"downloaded CIFAR-10 into {default / 'cifar-10-batches-py'}" in err
    assert len(fake_download) == 1 and sorted(os.listdir(default)) == ["cifar-10-batches-py"]  # no scratch
    test = load_dataset("cifar10", train=False)          # the chapters' default root reads it
    assert len(test) == N_PER_BATCH and test.classes == CIFAR10_CLASSES
    assert tuple(test.images.shape[1:]) == (3, 32, 32)
    assert len(load_dataset("cifar10", train=True)) == 5 * N_PER_BATCH

    assert fetch.main(["cifar10"]) == 0                  # a second build finds it: no second download
    out, err = capsys.readouterr()
    assert out == f"{default}\n" and "found" in err and len(fake_download) == 1


@pytest.mark.parametrize("error", [urllib.error.URLError("[Errno -2] Name or service not known"),
                                   OSError("Network is unreachable"), TimeoutError("timed out")],
                         ids=["URLError", "OSError", "timeout"])
def test_offline_exits_2_with_one_message_naming_MTLIB_DATA(home, fake_download, capsys, error):
    fake_download.error = error
    default = home / ".cache" / "mtlib" / "data"
    assert fetch.main(["cifar10"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    message = [line for line in err.splitlines() if line.startswith("mtlib.data.fetch: could not")]
    assert len(message) == 1, err
    assert "MTLIB_DATA" in message[0] and CIFAR10_FORMATS in message[0] and str(default) in message[0]
    assert cifar10_source(default) is None and os.listdir(default) == []   # nothing half-downloaded


def test_MTLIB_DATA_without_data_is_a_clear_error(home, tmp_path, fake_download, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MTLIB_DATA", str(empty))
    assert fetch.main(["cifar10"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"MTLIB_DATA={str(empty)!r} holds no CIFAR-10" in err and CIFAR10_FORMATS in err
    assert fake_download == []                           # MTLIB_DATA set: never downloads


@pytest.mark.parametrize("layout", ["cifar10-jpeg", "cifar-10-batches-py", "cifar10-jpeg.tar.gz"])
def test_MTLIB_DATA_with_data_is_used_as_is(home, tmp_path, fake_download, monkeypatch, capsys, layout):
    data = tmp_path / "data"
    if layout == "cifar10-jpeg":
        for split in ("train", "test"):
            (data / layout / split).mkdir(parents=True)
    elif layout == "cifar-10-batches-py":
        _write_batches(data / layout)
    else:
        data.mkdir()
        (data / layout).write_bytes(b"")
    monkeypatch.setenv("MTLIB_DATA", str(data))
    assert fetch.main(["cifar10"]) == 0
    assert capsys.readouterr().out == f"{data}\n" and fake_download == []


def test_command_line_exit_code(tmp_path):
    """``python -m mtlib.data.fetch cifar10`` as build_book.sh runs it: exit code 2 on a bad MTLIB_DATA."""
    env = {**os.environ, "HOME": str(tmp_path), "MTLIB_DATA": str(tmp_path / "missing")}
    proc = subprocess.run([sys.executable, "-m", "mtlib.data.fetch", "cifar10"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "" and "MTLIB_DATA=" in proc.stderr, proc.stderr


def test_build_book_runs_the_preflight_before_any_notebook():
    script = (ROOT / "scripts" / "build_book.sh").read_text()
    assert "-m mtlib.data.fetch cifar10" in script
    assert script.index("-m mtlib.data.fetch cifar10") < script.index("execute --executor")
