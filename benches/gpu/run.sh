#!/usr/bin/env bash
# The GPU check, as one prepared script for the GPU machine (driver, CUDA toolkit, PyTorch, a C++
# compiler; no Rust, no network). First, where Rust is: `benches/gpu/prepare.sh` (builds
# target-gpu/bin). Then, on the GPU machine, from the repository root, carrying target-gpu/bin:
#
#   OUT=/some/dir bash benches/gpu/run.sh      (default OUT: target-gpu/results)
#
# (`cargo xtask gpu [--out DIR]` does both on a machine with Rust and a GPU.)
#
#   1. tests: the CUDA-vs-CPU suite (tessera-tensor's tests/cuda/), one test at a time; the CUDA
#      unit tests of tessera-kernels (host emulation included) and tessera-tensor's; NCCL in a
#      world of one (tessera-dist's tests/nccl.rs); gradcheck on the CUDA device
#   2. train: `tessera train mlp` on the CPU and on the device with one seed, bf16 and f16 runs on
#      the device, a `--distributed` run on the device (NCCL, world 1), `tessera train lm
#      --epochs 1` on a slice of the shipped Shakespeare on both
#   3. bench: gpu-bench (ops) and gpu-steps (the MLP and LM training steps) and, with PyTorch,
#      the same in PyTorch
#
# Each step logs to $OUT/<step>.log and a line in $OUT/steps.jsonl; a failing step does not stop
# the later ones. benches/gpu/report.py then writes $OUT/report.md and $OUT/report.json (the
# training checks: the device's accuracy within 1 point of the CPU's, bf16/f16 within 1 point of
# f32, the LM's validation perplexity within 2%; the benchmark ratios); the exit code is nonzero
# if any step or check failed. ONLY="train" (or any of tests, train, bench) runs those groups
# only; TESSERA_GPU_DEVICE=cpu runs the training runs and gpu-steps with the CPU as "the device",
# a dry run of the script and the report on any machine. The first CUDA test compiles the kernel modules with
# NVRTC for the GPU's architecture, cached in $TESSERA_KERNEL_CACHE.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN="$PWD/target-gpu/bin"
OUT="${OUT:-$PWD/target-gpu/results}"
mkdir -p "$OUT"
[ -x "$BIN/tessera" ] || { echo "no $BIN/tessera: run benches/gpu/prepare.sh first and carry target-gpu/bin"; exit 2; }
export TESSERA_KERNEL_CACHE="${TESSERA_KERNEL_CACHE:-/tmp/tessera-kernel-cache}"
export TESSERA_KERNELS_DIR="$PWD/kernels"
# The driver, then the toolkit's NVRTC and cuBLAS (NVRTC must not be newer than the driver),
# then PyTorch's CUDA wheels as a fallback.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    /opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib; do
    [ -d "$d" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
# NCCL from the nvidia-nccl wheel: its libnccl.so.2 under the name the loader looks for.
nccl=$(ls /opt/torch/.venv/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2 2>/dev/null | head -n 1)
if [ -n "$nccl" ]; then
    mkdir -p /tmp/tessera-nccl && ln -sf "$nccl" /tmp/tessera-nccl/libnccl.so
    LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/tmp/tessera-nccl"
fi
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
ONLY="${ONLY:-tests train bench}"
DEVICE="${TESSERA_GPU_DEVICE:-cuda}"
wants() { [[ " $ONLY " == *" $1 "* ]]; }
: >"$OUT/steps.jsonl"
step() { # step NAME CMD...: runs CMD, logs to $OUT/NAME.log and a line of $OUT/steps.jsonl
    local name=$1; shift
    echo "==> $name"
    local t0=$SECONDS ok=true
    if "$@" >"$OUT/$name.log" 2>&1; then echo "<== $name ok ($((SECONDS - t0)) s)"; else
        ok=false; echo "<== $name FAILED ($((SECONDS - t0)) s), tail of $OUT/$name.log:"; tail -n 30 "$OUT/$name.log"; fi
    printf '{"name": "%s", "ok": %s, "seconds": %d}\n' "$name" "$ok" "$((SECONDS - t0))" >>"$OUT/steps.jsonl"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || true
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$OUT/gpu.txt"
if [ "${TESSERA_CUDA_EMULATOR:-}" = 1 ]; then
    echo "TESSERA_CUDA_EMULATOR=1: the CUDA host emulator stands in for the GPU (no speed, no NCCL)" >>"$OUT/gpu.txt"
fi
if wants tests; then
    step test-cuda "$BIN/test-tessera-tensor-cuda" --test-threads=1
    if grep -h "skipped" "$OUT/test-cuda.log"; then
        echo "CUDA tests SKIPPED: no device seen"
        echo '{"name": "test-cuda sees a device", "ok": false, "seconds": 0}' >>"$OUT/steps.jsonl"
    fi
    step test-kernels "$BIN/test-tessera-kernels-tessera_kernels" cuda::
    step test-nccl "$BIN/test-tessera-dist-nccl" --test-threads=1 --nocapture
    step test-tensor "$BIN/test-tessera-tensor-tessera_tensor"
    step gradcheck "$BIN/gradcheck" --device cuda --cases 8
fi

if wants train; then
    # Same seed and data on the CPU and the device; the run folders' results.json are compared.
    RUNS="$OUT/runs"
    mkdir -p "$RUNS"
    train() { # train NAME ARGS...: `tessera train ARGS --out $RUNS/NAME`
        local name=$1; shift
        step "train-$name" "$BIN/tessera" train "$@" --out "$RUNS/$name" --overwrite
    }
    mlp=(mlp --epochs 3 --seed 1)
    train mlp-cpu "${mlp[@]}" --device cpu
    train mlp-device "${mlp[@]}" --device "$DEVICE"
    train mlp-bf16 "${mlp[@]}" --device "$DEVICE" --precision bf16
    train mlp-f16 "${mlp[@]}" --device "$DEVICE" --precision f16
    # A world of one process through the distributed trainer: gradients all-reduced by NCCL.
    train mlp-nccl "${mlp[@]}" --device "$DEVICE" --distributed
    # The first 4,000 lines of the shipped plays: one epoch takes seconds, not minutes.
    gzip -dc crates/tessera/data/shakespeare_7_plays.txt.gz | head -n 4000 >"$OUT/lm-corpus.txt"
    lm=(lm --corpus "$OUT/lm-corpus.txt" --epochs 1 --seed 1)
    train lm-cpu "${lm[@]}" --device cpu
    train lm-device "${lm[@]}" --device "$DEVICE"
fi

if wants bench; then
    # On the emulator the benchmarks are a dry run of the programs and the report: their
    # operands a few thousandth of the size, one timed iteration.
    bench_args=() steps_args=()
    if [ "${TESSERA_CUDA_EMULATOR:-}" = 1 ]; then bench_args=(--small --iters 1) steps_args=(--iters 1); fi
    step bench "$BIN/gpu-bench" "${bench_args[@]}" --out "$OUT/tessera-ops.jsonl"
    step bench-steps "$BIN/gpu-steps" "${steps_args[@]}" --device "$DEVICE" --out "$OUT/tessera-steps.jsonl"
    cat "$OUT"/tessera-ops.jsonl "$OUT"/tessera-steps.jsonl >"$OUT/tessera.jsonl" 2>/dev/null
    if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
        step torch python3 benches/gpu/torch_compare.py --out "$OUT/torch.jsonl"
    fi
fi

python3 benches/gpu/report.py "$OUT"
status=$?
echo "results in $OUT (report.md, report.json)"
exit $status
