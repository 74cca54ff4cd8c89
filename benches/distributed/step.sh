#!/usr/bin/env bash
# The data-parallel GPT step on 2 processes x 1 thread against the one-process step at the same
# per-process batch (issue 16's target: at most 10% more), with communication overlapping
# backward and without it, and two independent one-process runs at once (what 2 processes on
# this machine cost with no communication at all). Needs OpenMPI and a release build with MPI:
#
#   cargo build --release -p tessera --features mpi
#   bash benches/distributed/step.sh [REPEATS] [ITERS]
#
# Prints the CPU model, then the training seconds of each run (150 iterations of the default
# 4-layer GPT, 12 sequences of 64 tokens per process per step) and the mean per configuration.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TESSERA:-$root/target/release/tessera}
reps=${1:-3}
iters=${2:-150}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
gpt=(train gpt --iters "$iters" --eval-interval "$iters" --eval-iters 1 --overwrite)
mpi=(mpirun -np 2 --allow-run-as-root --oversubscribe --bind-to core -x RAYON_NUM_THREADS=1)
seconds() { python3 -c "import json,sys; print(json.loads(open(sys.argv[1]+'/metrics.jsonl').readlines()[-1])['seconds'])" "$1"; }

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
declare -A total
for ((r = 1; r <= reps; r++)); do
    RAYON_NUM_THREADS=1 "$bin" "${gpt[@]}" --batch-size 12 --out alone >/dev/null 2>&1
    RAYON_NUM_THREADS=1 taskset -c 0 "$bin" "${gpt[@]}" --batch-size 12 --out pair0 >/dev/null 2>&1 &
    RAYON_NUM_THREADS=1 taskset -c 1 "$bin" "${gpt[@]}" --batch-size 12 --out pair1 >/dev/null 2>&1
    wait
    "${mpi[@]}" "$bin" "${gpt[@]}" --batch-size 24 --distributed --overlap on --out overlap >/dev/null 2>&1
    "${mpi[@]}" "$bin" "${gpt[@]}" --batch-size 24 --distributed --overlap off --out after >/dev/null 2>&1
    line="run $r:"
    for run in alone pair0 pair1 overlap after; do
        s=$(seconds $run)
        total[$run]=$(python3 -c "print(${total[$run]:-0} + $s)")
        line+=" $run $s s;"
    done
    echo "$line"
done
echo "mean seconds for $iters steps (one process: batch 12; two: batch 24, 12 each):"
for run in alone pair0 pair1 overlap after; do
    python3 -c "print(f'  {\"$run\":8} {${total[$run]} / $reps:.2f} s = {${total[$run]} / $reps / $iters * 1e3:.1f} ms per step')"
done
