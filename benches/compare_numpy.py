#!/usr/bin/env python3
"""Tessera's CPU ops against numpy, on the same sizes, in the same run.

Runs the criterion benchmark `cpu_ops` (crate `tessera-benches`), reads criterion's results, then
times numpy on the same cases with 1 and 2 BLAS threads, and prints one table with the ratio
tessera / numpy (below 1 is faster than numpy) and the rate (GFLOP/s for matmul, GB/s of bytes
moved otherwise), plus each op's bandwidth relative to a plain copy of the same bytes.

numpy and threadpoolctl are needed, for example in a virtual environment:

    python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install numpy threadpoolctl
    /tmp/benchvenv/bin/python benches/compare_numpy.py

Options: --skip-cargo (reuse the last criterion results), --python PATH (the interpreter that has
numpy, for the numpy half; default: this one), --filter REGEX (criterion filter, e.g. 'matmul'),
--openblas-coretype NAME (or $TESSERA_BENCH_OPENBLAS_CORETYPE; see below).

Both sides report the best sample (the fastest per-iteration mean among the samples): the machine
is shared, and contention only ever adds time. The median is kept in the JSON dump too.
The numpy run happens in a child process whose environment has OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE removed (they make OpenBLAS pick a slower kernel), unless --openblas-coretype
names a kernel; the kernel OpenBLAS chose is printed from threadpoolctl.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
M1, M16 = 1 << 20, 1 << 24

# (criterion group, size label) -> (elements or n, bytes moved or flops, kind)
CASES = {}
for n in (128, 256, 512, 1024, 2048):
    CASES[("matmul", str(n))] = (n, 2 * n**3, "flop")
# The training steps' products at their own shapes (see `matmul_shapes` in cpu_ops.rs):
# "MxKxN", with a trailing "t" when the right operand is an [N, K] weight seen transposed.
MATMUL_SHAPES = ("1120x256x5000", "32x256x1024t", "32x256x1024", "32x1024x256", "1120x256x5000t", "1120x5000x256", "768x128x384t", "8x768x3072t", "32x784x512t")
for lab in MATMUL_SHAPES:
    m, k, n = (int(d) for d in lab.rstrip("t").split("x"))
    CASES[("matmul_mkn", lab)] = (m * k * n, 2 * m * k * n, "flop")
for elems in (M1, M16):
    lab = f"{elems >> 20}M"
    CASES[("add", lab)] = (elems, 12 * elems, "byte")
    for op in ("exp", "tanh", "log", "erf", "sin", "copy", "vec_clone", "par_copy"):
        CASES[(op, lab)] = (elems, 8 * elems, "byte")
for op in ("sum_dim1", "sum_dim0", "sum_all"):
    CASES[(op, "4096x4096")] = (M16, 4 * M16, "byte")
CASES[("softmax", "4096x1024")] = (4096 * 1024, 8 * 4096 * 1024, "byte")
CASES[("log_softmax", "4096x1024")] = (4096 * 1024, 8 * 4096 * 1024, "byte")
CASES[("add_small", "32x128")] = (32 * 128, 12 * 32 * 128, "byte")

# Ops whose bandwidth is compared with the fastest plain copy (of COPIES) at the same thread
# count and element count (16M for the reductions and softmax).
BANDWIDTH_OPS = ("add", "exp", "tanh", "log", "sum_dim1", "sum_dim0", "sum_all", "softmax", "log_softmax", "copy")
COPIES = ("copy", "vec_clone", "par_copy")

NUMPY_WORKER = r'''
import json, sys, timeit
try:
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError as e:
    sys.exit(f"numpy side: {e}. Install: python3 -m venv /tmp/benchvenv && "
             "/tmp/benchvenv/bin/pip install numpy threadpoolctl, then pass --python /tmp/benchvenv/bin/python")
cases = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
def log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
def setup(op, size):
    if op == "matmul":
        n = int(size); a = rng.standard_normal((n, n), dtype=np.float32); b = rng.standard_normal((n, n), dtype=np.float32)
        return lambda: a @ b
    if op == "matmul_mkn":
        m, k, n = (int(d) for d in size.rstrip("t").split("x"))
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32).T if size.endswith("t") else rng.standard_normal((k, n), dtype=np.float32)
        return lambda: a @ b
    if op in ("sum_dim1", "sum_dim0", "sum_all"):
        x = rng.standard_normal((4096, 4096), dtype=np.float32)
        return {"sum_dim1": lambda: x.sum(axis=1), "sum_dim0": lambda: x.sum(axis=0), "sum_all": lambda: x.sum()}[op]
    if op in ("softmax", "log_softmax"):
        x = rng.standard_normal((4096, 1024), dtype=np.float32)
        return (lambda: softmax(x)) if op == "softmax" else (lambda: log_softmax(x))
    shape = (32, 128) if op == "add_small" else (int(size[:-1]) << 20,)
    a = rng.standard_normal(shape, dtype=np.float32); b = rng.standard_normal(shape, dtype=np.float32)
    positive = np.abs(a)
    if op == "erf":
        # numpy has no erf: PyTorch's, where it is installed (on the same threads).
        try:
            import torch
        except ImportError:
            return None
        ta = torch.from_numpy(a)
        return lambda: torch.erf(ta)
    return {"add": lambda: a + b, "add_small": lambda: a + b, "exp": lambda: np.exp(a), "tanh": lambda: np.tanh(a),
            "log": lambda: np.log(positive), "sin": lambda: np.sin(a), "copy": lambda: a.copy(),
            "vec_clone": lambda: a.copy(), "par_copy": lambda: a.copy()}[op]
info = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
        for d in threadpool_info()]
out = {"numpy": np.__version__, "blas": info, "times": {}}
for threads in (1, 2):
    with threadpool_limits(limits=threads):
        for op, size in cases:
            f = setup(op, size)
            if f is None:
                continue
            if "torch" in sys.modules:
                sys.modules["torch"].set_num_threads(threads)
            t = timeit.Timer(f)
            number, _ = t.autorange()           # calls per repeat so that one repeat takes >= 0.2 s
            number = max(1, number // 2)
            reps = sorted(x / number for x in t.repeat(repeat=7, number=number))
            out["times"][f"{op}|{size}|t{threads}"] = {"best": reps[0], "median": reps[len(reps) // 2]}
if "torch" in sys.modules:
    out["torch"] = sys.modules["torch"].__version__
print(json.dumps(out))
'''


def run_cargo(filt):
    cmd = ["cargo", "bench", "-p", "tessera-benches", "--bench", "cpu_ops"]
    if filt:
        cmd += ["--", filt]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(ROOT, "target-bench"))
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=sys.stderr)
    return env["CARGO_TARGET_DIR"]


def read_criterion(target):
    """{(group, size, 'tN'): {'best': s, 'median': s}} from criterion's `new/` results."""
    res = {}
    for bj in glob.glob(os.path.join(target, "criterion", "**", "new", "benchmark.json"), recursive=True):
        d = os.path.dirname(bj)
        with open(bj) as f:
            b = json.load(f)
        with open(os.path.join(d, "sample.json")) as f:
            s = json.load(f)
        with open(os.path.join(d, "estimates.json")) as f:
            e = json.load(f)
        best = min(t / i for t, i in zip(s["times"], s["iters"])) * 1e-9
        res[(b["group_id"], b["value_str"], b["function_id"])] = {
            "best": best, "median": e["median"]["point_estimate"] * 1e-9}
    return res


def numpy_env(coretype):
    """This process's environment for a numpy child: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
    removed (they make OpenBLAS pick a slower kernel), unless `coretype` names a kernel."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def fmt_time(s):
    for unit, k in (("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= k:
            return f"{s / k:.3g} {unit}"
    return f"{s:.3g} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-cargo", action="store_true")
    ap.add_argument("--python", default=os.environ.get("TESSERA_BENCH_PYTHON", sys.executable))
    ap.add_argument("--filter", default="")
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--openblas-coretype", default=os.environ.get("TESSERA_BENCH_OPENBLAS_CORETYPE"),
                    help="OpenBLAS kernel for the numpy run (e.g. Haswell); default: "
                    "$TESSERA_BENCH_OPENBLAS_CORETYPE, else OpenBLAS picks by itself")
    args = ap.parse_args()

    # Fail early, before the long cargo run, when the numpy side cannot run.
    probe = subprocess.run([args.python, "-c", "import numpy, threadpoolctl"], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("numpy and threadpoolctl are missing for " + args.python + ".\nInstall them with:\n"
                 "  python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install numpy threadpoolctl\n"
                 "then run: /tmp/benchvenv/bin/python benches/compare_numpy.py")

    load_before = os.getloadavg()[0]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target-bench"))
    if not args.skip_cargo:
        target = run_cargo(args.filter)
    ours = read_criterion(target)

    cases = sorted({(g, v) for (g, v, _) in ours if (g, v) in CASES})
    env = numpy_env(args.openblas_coretype)
    print(f"+ numpy timings (OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', 'unset')}, OPENBLAS_L2_SIZE unset)",
          file=sys.stderr, flush=True)
    np_out = subprocess.run([args.python, "-c", NUMPY_WORKER, json.dumps(cases)], env=env,
                            capture_output=True, text=True)
    if np_out.returncode != 0:
        sys.exit(np_out.stderr)
    theirs = json.loads(np_out.stdout)

    print(f"\nnumpy {theirs['numpy']}; BLAS: " + "; ".join(
        f"{b['internal_api']} {b['version']} kernel={b['architecture']}" for b in theirs["blas"]))
    print(f"1-min load average: {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
          f"({os.cpu_count()} CPUs; a load above that means other work competed)")
    print("times are the best sample of each side; ratio = tessera / numpy (below 1: tessera faster);")
    print("erf against PyTorch's torch.erf (numpy has none), '-' where torch is not installed")
    print("rate: GFLOP/s for matmul, GB/s of bytes moved otherwise (add: 3 buffers, exp/copy/softmax: 2,")
    print("reductions: 1); vs copy: rate / rate of the fastest plain copy (copy, vec_clone, par_copy) of")
    print("the same element count (16M for reductions and softmax) on the same threads\n")
    hdr = f"{'op':<10} {'size':<14} {'thr':>3}  {'tessera':>9}  {'numpy':>9}  {'ratio':>6}  {'tessera rate':>12}  {'numpy rate':>10}  {'vs copy':>7}"
    print(hdr)
    print("-" * len(hdr))
    rows = []
    order = list(CASES)
    for (g, v) in sorted(cases, key=order.index):
        for t in ("t1", "t2"):
            if (g, v, t) not in ours:
                continue
            _, work, kind = CASES[(g, v)]
            ts = ours[(g, v, t)]["best"]
            ns = theirs["times"].get(f"{g}|{v}|{t}", {}).get("best")
            scale = 1e9
            rate = work / ts / scale
            nrate = work / ns / scale if ns else float("nan")
            vs = ""
            if g in BANDWIDTH_OPS:
                size = v if g in ("add", "exp", "tanh", "log") else "16M"
                base = [CASES[(c, size)][1] / ours[(c, size, t)]["best"] / scale
                        for c in COPIES if (c, size, t) in ours]
                if base:
                    vs = f"{rate / max(base):.0%}"
            ratio = ts / ns if ns else float("nan")
            print(f"{g:<10} {v:<14} {t[1:]:>3}  {fmt_time(ts):>9}  {fmt_time(ns) if ns else '-':>9}  {ratio:>6.2f}  "
                  f"{rate:>12.1f}  {nrate:>10.1f}  {vs:>7}")
            rows.append({"op": g, "size": v, "threads": int(t[1:]), "tessera": ours[(g, v, t)],
                         "numpy": theirs["times"].get(f"{g}|{v}|{t}"), "kind": kind, "work": work})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"numpy": theirs["numpy"], "torch": theirs.get("torch"), "blas": theirs["blas"], "rows": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
