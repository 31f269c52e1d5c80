#!/usr/bin/env bash
# Turn a lent GPU into results: the device, the step benchmark, then (a slice of) the CIFAR-10
# 4000-label Mean Teacher ConvNet-13 run, checkpointed so that the next call resumes it.
#   MTLIB_DATA=DIR bash scripts/gpu_session.sh OUT [--resume-from DIR] [--slice-s S] [--no-benchmark]
# DIR holds cifar10-jpeg.tar.gz (default .gpu/data, a git-ignored folder to carry to the machine).
# Everything is written under OUT. See mtlib/reproduce/gpu_session.py.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_session.sh OUT [options of python -m mtlib.reproduce.gpu_session]}
shift
export MTLIB_DATA=${MTLIB_DATA:-.gpu/data} MTLIB_CACHE=${MTLIB_CACHE:-/tmp/mtlib-cache} PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" -m mtlib.reproduce.gpu_session --out "$out" "$@"
