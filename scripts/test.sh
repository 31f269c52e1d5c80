#!/usr/bin/env bash
# The test suite: unit tests of mtlib, then every chapter through nbval, then the book build
# and its offline render check. Data: $MTLIB_DATA (a folder with cifar10-jpeg.tar.gz or the
# extracted cifar10-jpeg/); without it the tests that need real data are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export MPLBACKEND=Agg
"$PY" -m pytest -q tests "$@"
