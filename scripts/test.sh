#!/usr/bin/env bash
# The test suite: (1) unit tests of mtlib and every chapter at the smoke override, on two workers
# (TEST_WORKERS); (2) the book build, which executes every chapter once at its CPU-scale defaults
# (they load the committed results files); (3) nbval's comparison of those executed outputs with the
# stored ones (tests/test_notebook_outputs.py) and the offline render check in headless Chromium.
# Data: $MTLIB_DATA (a folder with cifar10-jpeg.tar.gz or cifar10-jpeg/); without it the unit tests
# that need real data are skipped and the build fetches CIFAR-10 where online.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH" PYDEVD_DISABLE_FILE_VALIDATION=1
python -m pytest -q -n "${TEST_WORKERS:-2}" -m "not book" tests "$@"
bash scripts/build_book.sh
python -m pytest -q -m book tests/test_notebook_outputs.py tests/test_book_render.py
