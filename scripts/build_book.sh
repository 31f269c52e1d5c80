#!/usr/bin/env bash
# Build the Jupyter Book into _build/html with warnings as errors.
# Installs the JavaScript the pages serve themselves (MathJax 3, RequireJS, the
# ipywidgets HTML manager) with `npm ci` first when node_modules/ is missing or
# older than package-lock.json.  Then executes every notebook, two at a time, into the
# jupyter-cache that the build reads (_config.yml: execute_notebooks: cache).  Two chapters read
# the CIFAR-10 images themselves, so before any notebook runs `python -m mtlib.data.fetch cifar10`
# finds them: $MTLIB_DATA if set (a folder holding an existing copy, see README), else the default
# data folder, where torchvision downloads CIFAR-10 once; offline without MTLIB_DATA it stops here
# with exit code 2 and one message.  Extra arguments go to `jupyter-book build`.
# See CONTRIBUTING.md.
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

# CIFAR-10 for the chapters: the folder the preflight resolved (stdout; messages go to stderr).
PY="$(dirname "$JB")/python"
[ -x "$PY" ] || PY=python
DATA=$("$PY" -m mtlib.data.fetch cifar10)   # exit code 2 (set -e stops here) when there is none
export MTLIB_DATA="$DATA"

start=$(date +%s)
# Execute every notebook afresh, two at a time (one per core), into the cache the build reads.
CACHE=_build/.jupyter_cache
rm -rf "$CACHE"
mkdir -p _build
JCACHE="$(dirname "$JB")/jcache"
[ -x "$JCACHE" ] || JCACHE=jcache
printf 'y\n' | "$JCACHE" notebook -p "$CACHE" add book/*.ipynb >/dev/null   # 'y': create the cache
"$JCACHE" project -p "$CACHE" execute --executor local-parallel --timeout 1200
"$JB" build . -W "$@"
touch _build/html/.build_stamp   # tests/test_book_render.py compares sources against this
echo "build_book: built _build/html in $(( $(date +%s) - start )) s"
