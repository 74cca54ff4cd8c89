#!/usr/bin/env bash
# The GPU check, as one prepared script for the GPU machine (driver, CUDA toolkit, PyTorch, a C++
# compiler; no Rust, no network). First, where Rust is: `benches/gpu/prepare.sh` (builds
# target-gpu/bin). Then, on the GPU machine, from the repository root, carrying target-gpu/bin:
#
#   OUT=/some/dir bash benches/gpu/run.sh      (default OUT: target-gpu/results)
#
#   1. the CUDA-vs-CPU suite (tessera-tensor's tests/cuda/), one test at a time
#   2. the CUDA unit tests of tessera-kernels (host emulation included) and tessera-tensor's
#   3. gradcheck on the CUDA device
#   4. gpu-bench and, with PyTorch, the same ops in PyTorch; a side-by-side table
#
# Each step logs to $OUT/<step>.log; a failing step does not stop the later ones; the exit code
# is nonzero if any step failed. About 3-5 minutes on an H200 (the first CUDA test compiles the
# kernel modules with NVRTC for the GPU's architecture, cached in $TESSERA_KERNEL_CACHE).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN="$PWD/target-gpu/bin"
OUT="${OUT:-$PWD/target-gpu/results}"
mkdir -p "$OUT"
[ -x "$BIN/test-tessera-tensor-cuda" ] || { echo "no $BIN/test-tessera-tensor-cuda: run benches/gpu/prepare.sh first and carry target-gpu/bin"; exit 2; }
export TESSERA_KERNEL_CACHE="${TESSERA_KERNEL_CACHE:-/tmp/tessera-kernel-cache}"
export TESSERA_KERNELS_DIR="$PWD/kernels"
# The driver, then the toolkit's NVRTC and cuBLAS (NVRTC must not be newer than the driver),
# then PyTorch's CUDA wheels as a fallback.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    /opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib; do
    [ -d "$d" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
failed=0
step() { # step NAME CMD...: runs CMD, logs to $OUT/NAME.log, records failure
    local name=$1; shift
    echo "==> $name"
    local t0=$SECONDS
    if "$@" >"$OUT/$name.log" 2>&1; then echo "<== $name ok ($((SECONDS - t0)) s)"; else
        echo "<== $name FAILED ($((SECONDS - t0)) s), tail of $OUT/$name.log:"; tail -n 30 "$OUT/$name.log"; failed=1; fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || true
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$OUT/gpu.txt"
step test-cuda "$BIN/test-tessera-tensor-cuda" --test-threads=1
if grep -h "skipped" "$OUT/test-cuda.log"; then echo "CUDA tests SKIPPED: no device seen"; failed=1; fi
step test-kernels "$BIN/test-tessera-kernels-tessera_kernels" cuda::
step test-tensor "$BIN/test-tessera-tensor-tessera_tensor"
step gradcheck "$BIN/gradcheck" --device cuda --cases 8
step bench "$BIN/gpu-bench" --out "$OUT/tessera.jsonl"
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    step torch python3 benches/gpu/torch_compare.py --out "$OUT/torch.jsonl"
    python3 - "$OUT" <<'PY' | tee "$OUT/compare.txt"
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def load(name):
    f = out / name
    rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []
    return {(r["op"], r["dtype"]): r for r in rows}
ours, torch = load("tessera.jsonl"), load("torch.jsonl")
print(f"{'op':<14}{'dtype':<6}{'tessera ms':>12}{'torch ms':>10}{'ratio':>8}")
for key, r in ours.items():
    t = torch.get(key)
    print(f"{key[0]:<14}{key[1]:<6}{r['ms']:>12.3f}{t['ms'] if t else float('nan'):>10.3f}{r['ms'] / t['ms'] if t else float('nan'):>8.2f}")
PY
fi
echo "results in $OUT"
exit $failed
