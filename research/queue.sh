#!/usr/bin/env bash
# One core's share of the evidence runs, in the issues' order (fp32, one thread each). The fp32 reruns
# of the bf16 files are done and swapped in (research/rerun_fp32.py, research/swap_fp32.py); next:
#   1. the weight-norm verdict on 8 seeds, each normalisation also evaluated with freshly recalibrated
#      statistics (the paper-scale chapter's comparison; 32 runs);
#   2. weight 0.3 at 3,000 steps for every method: the Pi model and TE chose the validation grid's low edge
#      (cpu-validation-beyond, 12 runs; the edge rule of mtlib.book.validation.beyond_edges);
#   3. supervised-only at the ablations' collapse point (cpu-ablations-supervised, 4 runs);
#   4. the long CPU scale's validation of each method's weight (cpu-validation-long), and, where a choice
#      sits on an edge of its grid, the point beyond it (the same rule);
#   5. supervised-only's dropout at both lengths (cpu-validation-supervised);
#   6. weight 0.3 at 9,000 steps for every method: all three chose the grid's low edge there
#      (cpu-validation-long-beyond, 12 runs; the same edge rule);
#   7. supervised-only at dropout 0 at both lengths: it chose 0.25, its grid's low edge, at both
#      (cpu-validation-supervised-beyond, 8 runs; the same edge rule);
#   8. the exploratory headline at 9,000 steps, seeds 0-7, each method at its value validated there
#      (cpu-tables-long, 40 runs);
#   9. the claims' arms on the exploratory seeds 0-7 that no other preset made (cpu-confirm --seeds 0..7:
#      existing runs are skipped; new are supervised-only at its validated dropout at 3,000 steps and
#      Mean Teacher at decay 0 at 9,000 steps with its 9,000-step weight, 16 runs);
#  10. the Pi model's runs at 3,000 steps, seeds 4-7, made before the targets' accuracy was logged: the
#      exploratory side of the claim mt-vs-pi-targets@3000 reads them (research/rerun_claim_targets.txt,
#      4 runs into book/results/fp32-reruns; research/swap_fp32.py --list ... swaps them in);
#  10b. the Mean Teacher chapter's exercises 2-4 (cpu-mean-teacher-exercises, 20 runs);
#  11. the label-count curve's new counts (cpu-label-curve, 60 runs);
#  12. the confirmatory runs of mtlib/book/claims.py, seeds 100-107, both lengths (cpu-confirm, 88 runs);
#  13. VAT's and Mean Teacher + VAT's epsilon on validation (cpu-vat-validation, 36 runs);
#  14. the VAT chapter's claims (mtlib/book/vat_claims.py), seeds 100-107, once epsilon is chosen: VAT and
#      Mean Teacher + VAT (a, b) at 3,000 steps (cpu-vat, 24 new runs; its baselines are cpu-confirm's) and
#      (b) at 9,000 steps (cpu-vat-long, 8 new runs).
# The short 3,000-step runs of 10, 10b and 11 go before 8 and 9 (a session that ends mid-run loses
# its 9,000-step checkpoints with the machine; the short runs finish within one).
# Run from a clean commit, one per core:   for i in 0 1; do bash research/queue.sh $i 2 & done
# Resumable: run the same command again (finished files are skipped, checkpoints resume);
# stop with SIGTERM to the python processes (they checkpoint at the end of a step).
set -euo pipefail
cd "$(dirname "$0")/.."
# every python below imports this checkout's mtlib (a script in research/ would otherwise get the
# installed one, which an editable install points at another tree)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
i=${1:?shard index}; n=${2:-2}
PY=${PYTHON:-python}
for norm in weightnorm batchnorm; do
  "$PY" -m mtlib.reproduce run cpu-tables --labels 100 --methods supervised mean_teacher --seeds 0 1 2 3 4 5 6 7 \
    --override convnet_norm=$norm recalibrate_batches=20 --shard "$i/$n"
done
"$PY" -m mtlib.reproduce run cpu-validation-beyond --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-ablations-supervised --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-validation-long --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-validation-supervised --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-validation-long-beyond --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-validation-supervised-beyond --shard "$i/$n"
"$PY" research/rerun_fp32.py --list research/rerun_claim_targets.txt --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-mean-teacher-exercises --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-label-curve --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-tables-long --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-confirm --seeds 0 1 2 3 4 5 6 7 --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-confirm --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-vat-validation --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-vat --shard "$i/$n"
"$PY" -m mtlib.reproduce run cpu-vat-long --shard "$i/$n"
