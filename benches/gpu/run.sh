#!/usr/bin/env bash
# The GPU check, as one prepared script for a machine with an NVIDIA GPU (driver + CUDA toolkit
# or NVRTC/cuBLAS libraries on the loader path). Results go under $OUT (default
# target-gpu/results, git-ignored).
#
#   1. release build of the kernels and tensor crates
#   2. the CUDA-vs-CPU test suite (tests/cuda.rs) and the unit tests (on a GPU too)
#   3. gradcheck on the CUDA device, when the autograd crate's gradcheck takes --device
#   4. the tessera GPU bench binary and, if PyTorch is installed, the same ops in PyTorch
#   5. a side-by-side table (tessera ms / torch ms)
#
# Each step logs to $OUT/<step>.log; a failing step does not stop the later ones; the exit code
# is nonzero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/target-gpu/results}"
mkdir -p "$OUT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-gpu}"
export TESSERA_KERNEL_CACHE="${TESSERA_KERNEL_CACHE:-$CARGO_TARGET_DIR/kernel-cache}"
# Prefer the machine's own toolkit libraries (NVRTC must not be newer than the driver).
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
failed=0
step() { # step NAME CMD...: runs CMD, logs to $OUT/NAME.log, records failure
    local name=$1; shift
    echo "==> $name"
    local t0=$SECONDS
    if "$@" >"$OUT/$name.log" 2>&1; then echo "<== $name ok ($((SECONDS - t0)) s)"; else
        echo "<== $name FAILED ($((SECONDS - t0)) s), tail of $OUT/$name.log:"; tail -n 30 "$OUT/$name.log"; failed=1; fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1 || true
step build cargo build --release -p tessera-kernels -p tessera-tensor --bins --tests
# (The NVRTC compile check for sm_80/sm_90 runs in CI; here the tests compile for this GPU's own
# architecture on first use and cache the cubins under $TESSERA_KERNEL_CACHE.)
step test-cuda cargo test --release -p tessera-tensor --test cuda -- --test-threads=1
grep -h "skipped: no CUDA device" "$OUT/test-cuda.log" && { echo "CUDA tests SKIPPED: no device seen"; failed=1; }
step test-units cargo test --release -p tessera-kernels -p tessera-tensor --lib
if grep -qs -- "--device" crates/tessera-autograd/src/bin/gradcheck.rs; then
    step gradcheck cargo run --release -q -p tessera-autograd --bin gradcheck -- --device cuda --cases 8
fi
step bench cargo run --release -q -p tessera-kernels --bin gpu-bench -- --out "$OUT/tessera.jsonl"
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
