#!/usr/bin/env bash
# The test suite: (1) unit tests of mtlib and every chapter at the smoke override, (2) every chapter
# through nbval at its CPU-scale defaults (they load the committed results files), (3) the book
# build and its offline render check in headless Chromium. Data: $MTLIB_DATA (a folder with
# cifar10-jpeg.tar.gz or cifar10-jpeg/); without it the tests that need real data are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH" PYDEVD_DISABLE_FILE_VALIDATION=1
python -m pytest -q -m "not book" tests "$@"
python -m pytest -q --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=1200 book/
bash scripts/build_book.sh
python -m pytest -q -m book tests/test_book_render.py
