#!/usr/bin/env bash
# Builds, on a machine with Rust (no GPU needed), everything benches/gpu/run.sh runs on the GPU
# machine, which has CUDA, PyTorch and a C++ compiler but no Rust toolchain and no network:
# release test executables (the CUDA suite, the kernels' unit tests with the host emulation, the
# tensor unit tests, tessera-dist's NCCL tests), gpu-bench, gpu-steps, gradcheck, compile-kernels and the `tessera` program.
# They land stripped in target-gpu/bin (git-ignored; carry that folder to the GPU machine).
# Built against glibc 2.36 (Debian 12), they run on newer images (the GPU image is Ubuntu 24.04).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target-gpu}"
BIN="$PWD/target-gpu/bin"
rm -rf "$BIN" && mkdir -p "$BIN"

# Test executables: name them test-<crate>-<target> (stable across builds).
cargo test --release -p tessera-kernels -p tessera-tensor -p tessera-dist --no-run --message-format=json |
    python3 -c '
import json, shutil, sys
want = {("tessera-kernels", "tessera_kernels"), ("tessera-tensor", "tessera_tensor"), ("tessera-tensor", "cuda"), ("tessera-dist", "nccl")}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    pkg = m["manifest_path"].replace("\\", "/").split("/")[-2]
    key = (pkg, m["target"]["name"])
    if key in want:
        shutil.copy(m["executable"], sys.argv[1] + "/test-%s-%s" % key)
        print("test-%s-%s" % key)
' "$BIN"
cargo build --release -q -p tessera-benches --bin gpu-bench --bin gpu-steps -p tessera-devtools --bin gradcheck --bin compile-kernels \
    -p tessera --bin tessera
for b in gpu-bench gpu-steps gradcheck compile-kernels tessera; do cp "$CARGO_TARGET_DIR/release/$b" "$BIN/"; done
strip "$BIN"/*
ls -la "$BIN"
du -sh "$BIN"
n=$(ls "$BIN" | grep -c '^test-')
[ "$n" -eq 4 ] || { echo "expected 4 test executables, found $n"; exit 1; }
