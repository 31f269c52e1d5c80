#!/usr/bin/env bash
# Install everything from scratch: a virtual environment with the pinned requirements (mtlib
# editable), the book's offline JavaScript (npm), and headless Chromium for the render test.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi
if [ -f scripts/install_system.sh ]; then bash scripts/install_system.sh; fi
echo "setup done: $VENV"
