#!/usr/bin/env bash
# A comparison with Tessera and its reference both held to AVX2: what a CPU without AVX-512
# (Zen 3, most Intel laptops) runs, timed on one that has it.
#
#   TESSERA_BENCH_PYTHON=PY benches/avx2_cap.sh paired [compare_paired.py's options]
#   TESSERA_BENCH_PYTHON=PY benches/avx2_cap.sh numpy [compare_numpy.py's options]
#   TESSERA_BENCH_PYTHON=PY benches/avx2_cap.sh all [compare_all.py's options]
#
# `all` is `cargo xtask bench --compare --avx2`: every comparison and issue 20's targets block,
# into target/bench-compare-avx2 unless --out says otherwise. PY is a Python with numpy and
# threadpoolctl (and torch, for `paired`, `all` and numpy's erf row).
# Tessera's own kernels are capped by TESSERA_CPU_ISA=avx2; the gemm crate ignores that cap and
# picks its AVX-512 kernels wherever they are compiled in, so the comparison runs from a copy of
# the working tree whose workspace manifest drops gemm's `x86-v4` feature, built into
# target-avx2/. PyTorch is capped by ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS and
# ONEDNN_MAX_CPU_ISA; numpy by NPY_DISABLE_CPU_FEATURES (its AVX-512 loops) and OpenBLAS's
# Haswell kernels. On a CPU without AVX-512 the caps change nothing.
set -euo pipefail

case "${1:-}" in
    paired) script=compare_paired.py ;;
    numpy) script=compare_numpy.py ;;
    all) script=compare_all.py ;;
    *) echo "usage: benches/avx2_cap.sh paired|numpy|all [options of that comparison]" >&2; exit 2 ;;
esac
shift
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
    echo "avx2_cap.sh: Cargo.toml's gemm line changed; drop its x86-v4 feature in this script" >&2
    exit 1
fi

export TESSERA_CPU_ISA=avx2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
export NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" TESSERA_BENCH_OPENBLAS_CORETYPE=Haswell
echo "held to AVX2: TESSERA_CPU_ISA=$TESSERA_CPU_ISA and gemm without x86-v4;" \
    "ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS=$MKL_ENABLE_INSTRUCTIONS," \
    "ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA; NPY_DISABLE_CPU_FEATURES=\"$NPY_DISABLE_CPU_FEATURES\"," \
    "OPENBLAS_CORETYPE=Haswell"
grep -m1 'model name' /proc/cpuinfo || true
extra=()
if [ "$script" = compare_all.py ] && [[ " $* " != *" --out "* ]]; then
    extra=(--out "$root/target/bench-compare-avx2")
fi
cd "$copy" && "$python" "benches/$script" "${extra[@]}" "$@"
