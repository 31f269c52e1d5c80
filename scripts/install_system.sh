#!/usr/bin/env bash
# System packages the book needs beyond the Python venv (idempotent; quick when done):
#   - node + npm: `npm ci` installs MathJax / RequireJS / the widget manager (package-lock.json)
#   - chromium + chromium-driver: headless browser for tests/test_book_render.py
# Debian/Ubuntu only; run as root (or with sudo available).
set -euo pipefail

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)

if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "install_system: apt-get install ${need[*]}"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
else
    echo "install_system: node, npm, chromium, chromedriver already installed"
fi
node --version
npm --version
