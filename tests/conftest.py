"""Shared fixtures. Tests needing the real CIFAR-10 JPEG copy take its folder from $MTLIB_DATA."""
import os
from pathlib import Path

import pytest


@pytest.fixture
def cifar_root():
    """Folder holding cifar10-jpeg.tar.gz or cifar10-jpeg/ (from $MTLIB_DATA); skip if unset."""
    root = os.environ.get("MTLIB_DATA")
    if not root:
        pytest.skip("MTLIB_DATA is unset: set it to a folder holding cifar10-jpeg.tar.gz "
                    "(e.g. the shared data folder) to run the real CIFAR-10 tests")
    root = Path(root)
    if not ((root / "cifar10-jpeg.tar.gz").is_file() or (root / "cifar10-jpeg").is_dir()):
        pytest.skip(f"MTLIB_DATA={root} holds neither cifar10-jpeg.tar.gz nor cifar10-jpeg/")
    return root


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """Point the decoded-dataset cache at a fresh temporary folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MTLIB_CACHE", str(cache))
    return cache
