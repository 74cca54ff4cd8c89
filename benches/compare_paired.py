"""Paired rounds of the training steps that issue 20 sets targets for, Tessera against PyTorch.

On a shared host the speed of the machine drifts by 10-25% over minutes, and `compare_torch.py`
times all of Tessera's steps (criterion) before all of PyTorch's, minutes apart. Here each round
times one workload in Tessera (`examples/step`, a fresh process) and then in PyTorch, a few
seconds each, so that both sides of a round see the same host; the table gives each workload's
ratio (tessera / torch, below 1: Tessera faster) as the median over the rounds, with the lowest
and highest round. Both sides count the same way: three warm-up steps, then the mean of the
timed steps. Each Tessera side also times the 2048 x 2048 product right after its steps, on the
same threads (`examples/step.rs --bound`), so the `x bound` column puts the step beside its
arithmetic bound as both stood in that round (median over the rounds): on the 2-vCPU Zen 5 of
`benches/log/zen5-2026-12-07-host-state.md` the two-thread product itself ran 43-84 ms within a
minute. A round runs a workload on each of its thread counts in turn, and the two-thread rows give
the gain over one thread as the median of the rounds' own gains, for each side.

The square products of the matmul target (n = 128..2048, 1 and 2 threads) get paired rounds too,
against numpy's (OpenBLAS, in a fresh process whose environment is prepared as `compare_numpy.py`
prepares its own), half as long a side: `compare_numpy.py` takes Tessera's figures from criterion
and numpy's a quarter of an hour later, and on this host their ratio at 2048 moved between 1.01
and 1.09 from one run to the next.

Run by `compare_all.py` (so by `cargo xtask bench --compare`), or directly with a Python that has
torch, numpy and threadpoolctl: `PY benches/compare_paired.py [--rounds N] [--seconds S]
[--only NAMES] [--json FILE]`; it builds the step example into the comparison's target folder
unless `--skip-cargo`.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_numpy  # noqa: E402
import compare_torch  # noqa: E402  (exits with a message when PyTorch is missing)
import gpt_torch  # noqa: E402
import torch  # noqa: E402
from targets import gain, median  # noqa: E402


# The square products of issue 20's products target, timed against numpy's in the same rounds.
PRODUCT_SIDES = (128, 256, 512, 1024, 2048)

# numpy's side of a product round: `n steps threads` on the command line; prints the seconds per
# product, then the BLAS library and the kernel it runs.
NUMPY_PRODUCT = r"""
import sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
n, steps, threads = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
with threadpool_limits(limits=threads):
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(steps):
        a @ b
    print((time.perf_counter() - start) / steps)
print("; ".join(f"{d.get('internal_api')} {d.get('version')} kernel={d.get('architecture')}" for d in threadpool_info()))
"""


def gpt_step_fn():
    """One iteration of the default `tessera train gpt` recipe in PyTorch (gpt_torch.py)."""
    args = gpt_torch.parser().parse_args(["step"])
    model, opt, train, _ = gpt_torch.recipe(args)
    return gpt_torch.step_fn(model, opt, train, args, torch.Generator().manual_seed(args.seed))


# (row name, `examples/step` workload, thread counts, PyTorch step builder, Tessera's rough ms/step
# to size a round). The MLP targets are on one thread; the others on one and two. The GRU layer
# has no target of its own; it is here because its recurrence has a kernel like the LSTM's.
WORKLOADS = [
    ("MLP step, batch 32 (fused Adam)", "mlp_step/b32", (1,), lambda: compare_torch.mlp_step_fn(32, True), 0.2),
    ("MLP step, batch 256 (fused Adam)", "mlp_step/b256", (1,), lambda: compare_torch.mlp_step_fn(256, True), 1.0),
    ("LSTM layer fwd+bwd (32x35, 128->256)", "lstm_layer", (1, 2),
     lambda: compare_torch.recurrent_layer_fn(torch.nn.LSTM), 20.0),
    ("GRU layer fwd+bwd (32x35, 128->256)", "gru_layer", (1, 2),
     lambda: compare_torch.recurrent_layer_fn(torch.nn.GRU), 15.0),
    ("LM step (v5000 e128 h256 s35 b32)", "lm_step", (1, 2), compare_torch.lm_step_fn, 100.0),
    ("GPT step (train gpt defaults)", "gpt_step", (1, 2), gpt_step_fn, 40.0),
]


def torch_mean_s(step, steps):
    """Seconds per step: three warm-up steps, then the mean of `steps` (as `examples/step`)."""
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def tessera_round(binary, name, steps, threads, with_bound=True):
    """Seconds per step of Tessera's `name` workload and, `with_bound`, the step over its arithmetic
    bound (else None), from the step example's report."""
    out = subprocess.run([binary, name, str(steps), str(threads)] + (["--bound"] if with_bound else []),
                         capture_output=True, text=True, check=True).stdout
    # "<name>: N steps on T thread(s): X ms/step; ...", then "bound: ..., Y.YYx bound"
    lines = out.splitlines()
    seconds = float(lines[0].split(": ")[2].split(" ms/step")[0]) / 1e3
    return seconds, float(lines[1].split(", ")[-1].split("x bound")[0]) if with_bound else None


def round_columns(runs, reference_key):
    """A row's columns from its paired rounds: Tessera's and the reference's median times, and the
    median, lowest and highest round's ratio."""
    ms = lambda key: median([r[key] for r in runs]) * 1e3  # noqa: E731
    ratios = sorted(r["ratio"] for r in runs)
    return (f"{ms('tessera_s'):>7.4g} ms {ms(reference_key):>7.4g} ms "
            f"{ratios[len(ratios) // 2]:>6.2f} {ratios[0]:>7.2f} {ratios[-1]:>8.2f}")


def numpy_product_round(n, steps, threads, env):
    """Seconds per `n x n` f32 product in numpy on `threads` BLAS threads, counted as the step
    example counts (three untimed, then the mean of `steps`), in a fresh process with `env`; and
    the BLAS library and kernel threadpoolctl reports."""
    out = subprocess.run([sys.executable, "-c", NUMPY_PRODUCT, str(n), str(steps), str(threads)], env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return float(out[0]), out[1]


def product_rounds(binary, rounds, seconds, env):
    """Issue 20's products target in paired rounds: each round times the `n x n` product in
    Tessera (`examples/step matmul/N`) and then in numpy, for every n of `PRODUCT_SIDES` and on 1
    and 2 threads; returns the table's lines and the JSON rows (ratio = Tessera / numpy)."""
    rows, lines, blas = [], [], None
    for n in PRODUCT_SIDES:
        # About `seconds` a side at a rough 150 GFLOP/s a thread.
        steps = {t: max(5, int(seconds * 150e9 * t / (2 * n**3))) for t in (1, 2)}
        runs = {t: [] for t in (1, 2)}
        for _ in range(rounds):
            for threads in (1, 2):
                ours, _ = tessera_round(binary, f"matmul/{n}", steps[threads], threads, with_bound=False)
                theirs, blas = numpy_product_round(n, steps[threads], threads, env)
                runs[threads].append({"tessera_s": ours, "numpy_s": theirs, "ratio": ours / theirs})
        for threads in (1, 2):
            line = f"{f'matmul {n}':<40} {threads:>3} {round_columns(runs[threads], 'numpy_s')}"
            print(line, flush=True)
            lines.append(line)
            rows.append({"workload": f"matmul {n}", "bench": f"matmul/{n}", "threads": threads,
                         "steps": steps[threads], "rounds": runs[threads]})
    header = [f"products against numpy's in the same rounds ({blas}; ratio = tessera / numpy):",
              f"{'product':<40} {'thr':>3} {'tessera':>10} {'numpy':>10} {'ratio':>6} {'lowest':>7} {'highest':>8}"]
    return header + lines, rows


def step_binary(skip_cargo):
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(HERE), "target-bench"))
    if not skip_cargo:
        build = ["cargo", "build", "--release", "-p", "tessera-benches", "--example", "step"]
        subprocess.run(build, cwd=os.path.dirname(HERE), env=dict(os.environ, CARGO_TARGET_DIR=target), check=True)
    return os.path.join(target, "release", "examples", "step")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="about how long each side of a round runs")
    ap.add_argument("--skip-cargo", action="store_true", help="use the step example already built")
    ap.add_argument("--json", help="also write every round to this file")
    ap.add_argument("--only", help="comma-separated step names to run (e.g. lstm_layer,gpt_step, or matmul for "
                    "the products); all by default")
    ap.add_argument("--openblas-coretype", default=os.environ.get("TESSERA_BENCH_OPENBLAS_CORETYPE"),
                    help="OpenBLAS kernel for numpy's products (as in compare_numpy.py); default: "
                    "$TESSERA_BENCH_OPENBLAS_CORETYPE, else OpenBLAS picks by itself")
    args = ap.parse_args()
    binary = step_binary(args.skip_cargo)
    rows, lines = [], []
    lines.append(f"paired rounds: {args.rounds} per row, about {args.seconds:g} s per side; torch {torch.__version__}")
    lines.append(f"{'workload':<40} {'thr':>3} {'tessera':>10} {'torch':>10} {'ratio':>6} {'lowest':>7} {'highest':>8}"
                 f" {'x bound':>8} {'gain tessera/torch':>19}")
    only = set(args.only.split(",")) if args.only else None
    for name, bench, thread_counts, torch_fn, rough_ms in WORKLOADS:
        if only is not None and bench not in only:
            continue
        steps = max(5, int(args.seconds * 1e3 / rough_ms))
        torch_steps = {threads: torch_fn() for threads in thread_counts}
        rounds = {threads: [] for threads in thread_counts}
        # A round times every thread count, so that the gain from more threads compares times
        # seconds apart too.
        for _ in range(args.rounds):
            for threads in thread_counts:
                torch.set_num_threads(threads)
                ours, x_bound = tessera_round(binary, bench, steps, threads)
                theirs = torch_mean_s(torch_steps[threads], steps)
                rounds[threads].append(
                    {"tessera_s": ours, "torch_s": theirs, "ratio": ours / theirs, "x_bound": x_bound})
        for threads in thread_counts:
            runs = rounds[threads]
            gains = "-"
            if threads > 1 and 1 in rounds:
                gains = "/".join(f"{gain(rounds[1], runs, k):.2f}x" for k in ("tessera_s", "torch_s"))
            x_bound = median([r["x_bound"] for r in runs])
            line = f"{name.split(' (')[0]:<40} {threads:>3} {round_columns(runs, 'torch_s')} {x_bound:>8.2f} {gains:>19}"
            print(line, flush=True)
            lines.append(line)
            rows.append({"workload": name, "bench": bench, "threads": threads, "steps": steps, "rounds": runs})
    torch.set_num_threads(1)
    if only is None or "matmul" in only:
        print(flush=True)
        more, product_rows = product_rounds(binary, args.rounds, args.seconds / 2,
                                            compare_numpy.numpy_env(args.openblas_coretype))
        lines += [""] + more
        rows += product_rows
    print("\n" + "\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "lines": lines, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
