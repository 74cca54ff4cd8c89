#!/usr/bin/env bash
# The paired training-step rounds (compare_paired.py) with Tessera and PyTorch both held to AVX2:
# what a CPU without AVX-512 (Zen 3, most Intel laptops) runs, timed on one that has it.
#
#   TESSERA_BENCH_PYTHON=PY benches/avx2_paired.sh [compare_paired.py's options]
#
# PY is a Python with numpy, threadpoolctl and torch. Tessera's own kernels are capped by
# TESSERA_CPU_ISA=avx2; the gemm crate ignores that cap and picks its AVX-512 kernels wherever
# they are compiled in, so the step example is built from a copy of the working tree whose
# workspace manifest drops gemm's `x86-v4` feature, into target-avx2/. PyTorch is capped by
# ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS and ONEDNN_MAX_CPU_ISA. On a CPU without AVX-512
# the caps change nothing and this is compare_paired.py on an ordinary build.
set -euo pipefail

python=${TESSERA_BENCH_PYTHON:?"set TESSERA_BENCH_PYTHON to a Python with numpy, threadpoolctl and torch"}
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR="$root/target-avx2"
copy="$CARGO_TARGET_DIR/tree"

# The tracked files as they are now (edits included), not the last commit, with their times, so
# that a second run rebuilds only what changed.
rm -rf "$copy" && mkdir -p "$copy"
git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents --no-dereference --preserve=timestamps -t "$copy")
sed -i 's/features = \["std", "rayon", "f16", "x86-v4"\]/features = ["std", "rayon", "f16"]/' "$copy/Cargo.toml"
touch -r "$root/Cargo.toml" "$copy/Cargo.toml"
if grep -q '"x86-v4"' "$copy/Cargo.toml"; then
    echo "avx2_paired.sh: Cargo.toml's gemm line changed; drop its x86-v4 feature in this script" >&2
    exit 1
fi
(cd "$copy" && cargo build --release --quiet -p tessera-benches --example step)

export TESSERA_CPU_ISA=avx2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
echo "capped to AVX2: TESSERA_CPU_ISA=$TESSERA_CPU_ISA, gemm without x86-v4;" \
    "torch capability $("$python" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')," \
    "MKL_ENABLE_INSTRUCTIONS=$MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA"
grep -m1 'model name' /proc/cpuinfo || true
"$python" "$root/benches/compare_paired.py" --skip-cargo "$@"
