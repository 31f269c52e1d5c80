"""CIFAR-10 on this machine before the book runs: ``python -m mtlib.data.fetch cifar10``.

The preflight of ``scripts/build_book.sh``. It resolves the data folder the chapters read
(:func:`mtlib.data.datasets.data_root`): ``$MTLIB_DATA`` when set, which must already hold CIFAR-10
in one of the accepted layouts (``CIFAR10_FORMATS``; checked offline, in milliseconds); else the
default folder, into which torchvision downloads CIFAR-10 (with its progress bar) the first time.
It prints that folder on stdout (everything else goes to stderr), or exits with code 2 and one
message naming ``MTLIB_DATA`` and the accepted layouts when there is no CIFAR-10 to be had (e.g. the
machine is offline).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from mtlib.data.datasets import CIFAR10_FORMATS, cifar10_source, data_root

DATASETS = ("cifar10",)
# seconds a socket may wait for the download server: an offline machine fails fast, never hangs
DOWNLOAD_TIMEOUT_S = 30
_PROG = "mtlib.data.fetch"


class FetchError(RuntimeError):
    """No CIFAR-10 could be found or downloaded; the message says what to set."""


def ensure_cifar10(log=None) -> Path:
    """The data folder that holds CIFAR-10: ``$MTLIB_DATA`` if set, else the default folder, where
    it is downloaded once if missing. Raises :class:`FetchError` naming MTLIB_DATA otherwise.
    Progress lines go to ``log`` (default: stderr)."""
    log = sys.stderr if log is None else log
    root = data_root()
    found = cifar10_source(root)
    if found is None and os.environ.get("MTLIB_DATA"):
        raise FetchError(f"MTLIB_DATA={str(root)!r} holds no CIFAR-10: set MTLIB_DATA to a folder "
                         f"holding {CIFAR10_FORMATS}, or unset it to download CIFAR-10 into the "
                         "default data folder")
    if found is not None:
        print(f"{_PROG}: CIFAR-10 found in {found}", file=log)
        return root
    print(f"{_PROG}: CIFAR-10 is not in {root}; downloading it there once (about 170 MB)", file=log)
    try:
        _download_cifar10(root)
    except Exception as e:  # offline, refused, truncated, wrong checksum: one message, exit 2
        raise FetchError(f"could not download CIFAR-10 into {root} ({type(e).__name__}: {e}); "
                         "without internet, set MTLIB_DATA to a folder holding an existing copy as "
                         f"{CIFAR10_FORMATS}, and run again") from e
    print(f"{_PROG}: downloaded CIFAR-10 into {root / 'cifar-10-batches-py'}", file=log)
    return root


def _download_cifar10(root: Path) -> None:
    """``torchvision.datasets.CIFAR10(download=True)`` into a scratch folder under ``root`` (it
    checks every batch's md5), then its ``cifar-10-batches-py`` moved into ``root``: a failed or
    interrupted download leaves nothing that would pass for CIFAR-10. torchvision's prints go to
    stderr, so that stdout holds only the folder."""
    from torchvision.datasets import CIFAR10

    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".cifar10-download-", dir=root))
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S if timeout is None else timeout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            CIFAR10(str(scratch), train=True, download=True)
        os.replace(scratch / CIFAR10.base_folder, root / CIFAR10.base_folder)
    finally:
        socket.setdefaulttimeout(timeout)
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None) -> int:
    """Command line: print the data folder holding the dataset, or one message and return 2."""
    parser = argparse.ArgumentParser(prog=f"python -m {_PROG}", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=DATASETS)
    parser.parse_args(argv)
    try:
        root = ensure_cifar10()
    except FetchError as e:
        print(f"{_PROG}: {e}", file=sys.stderr)
        return 2
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
