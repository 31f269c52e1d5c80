#!/usr/bin/env bash
# One core's share of the evidence runs, in the issues' order (fp32, one thread each):
#   1. the fp32 reruns of the ladder's six fp32 files made before the targets' logging
#      (rerun_ladder_targets.txt: decay 0 seeds 4-7, the paper schedule seeds 6-7: its targets section
#      then has all 8 seeds), then of the bf16 results files (rerun_fp32.py, list rerun_files.txt);
#   2. the weight-norm verdict on 8 seeds, each normalisation also evaluated with freshly recalibrated
#      statistics (the paper-scale chapter's comparison; 32 runs);
#   3. the long CPU scale's validation of each method's weight (cpu-validation-long);
#   4. supervised-only's dropout at both lengths (cpu-validation-supervised);
#   5. supervised-only at the ablations' collapse point (cpu-ablations-supervised, 4 runs);
#   6. the label-count curve's new counts (cpu-label-curve, 60 runs to make).
# Run from a clean commit, one per core:   for i in 0 1; do bash research/queue.sh $i 2 & done
# Resumable: run the same command again (finished files are skipped, checkpoints resume);
# stop with SIGTERM to the python processes (they checkpoint at the end of a step).
set -euo pipefail
cd "$(dirname "$0")/.."
i=${1:?shard index}; n=${2:-2}
PY=${PYTHON:-python}
"$PY" research/rerun_fp32.py --list research/rerun_ladder_targets.txt --shard "$i/$n"
"$PY" research/rerun_fp32.py --shard "$i/$n"
for norm in weightnorm batchnorm; do
  "$PY" -m mtlib.reproduce run cpu-tables --labels 100 --methods supervised mean_teacher --seeds 0 1 2 3 4 5 6 7 \
    --override convnet_norm=$norm recalibrate_batches=20 --shard "$i/$n"
done
"$PY" -m mtlib.reproduce run cpu-validation-long --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-validation-supervised --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-ablations-supervised --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-label-curve --shard "$i/$n"
