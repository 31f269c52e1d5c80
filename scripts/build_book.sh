#!/usr/bin/env bash
# Build the Jupyter Book into _build/html with warnings as errors.
# Installs the JavaScript the pages serve themselves (MathJax 3, RequireJS, the
# ipywidgets HTML manager) with `npm ci` first when node_modules/ is missing or
# older than package-lock.json.  Extra arguments go to `jupyter-book build`.
# See book/contributing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "build_book: npm ci (node_modules missing or older than package-lock.json)"
    npm ci --no-audit --no-fund
fi

VENV=${VENV:-.venv}
[ -x "$VENV/bin/jupyter-book" ] && export PATH="$PWD/$VENV/bin:$PATH"
JB="${JUPYTER_BOOK:-$(command -v jupyter-book || true)}"
if [ -z "$JB" ]; then
    echo "build_book: jupyter-book not found; set JUPYTER_BOOK or put the venv's bin/ on PATH" >&2
    exit 2
fi

start=$(date +%s)
"$JB" build . -W "$@"
touch _build/html/.build_stamp   # tests/test_book_render.py compares sources against this
echo "build_book: built _build/html in $(( $(date +%s) - start )) s"
