"""Every Tessera-vs-reference comparison in one run: `compare_numpy.py` (CPU ops against numpy) and
`compare_torch.py` (training steps against PyTorch), then one table of ratios (tessera / reference,
below 1: Tessera faster) for 1 and 2 threads, under the machine's CPU model and SIMD flags; then each
training step beside its arithmetic bound: the floating-point operations of its matrix products
(counted by `examples/step.rs --flops`) at the rate Tessera's own 2048 x 2048 product reached in the
same run, on the same number of threads, and at the machine's f32 multiply-add peak (`examples/step.rs
--fma-peak`, a loop of independent FMAs in registers: what no product can beat); then
`compare_paired.py`'s rounds of the targeted steps and square products, Tessera and PyTorch or
numpy alternating, whose ratios a drifting host skews least; last, issue 20's targets with both
readings and a verdict each (`targets.py`). Unless `--skip-cargo`, everything is built first and
the host is left idle for 30 s before the first timing.

Run through `cargo xtask bench --compare [--install] [--skip-cargo]`, or directly with a Python
that has numpy, threadpoolctl and torch: `PY benches/compare_all.py [--skip-cargo] [--out DIR]`.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

import targets

HERE = os.path.dirname(os.path.abspath(__file__))
# Seconds between the builds and the first timing (see `build_then_settle`).
SETTLE_S = 30
FLAGS = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "amx_tile"]


def machine():
    """The CPU model, its SIMD flags of interest, and the CPU count, from /proc/cpuinfo; and the
    instruction set cap where `TESSERA_CPU_ISA` sets one (`avx2_cap.sh all`)."""
    model, flags = "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    have = set(value.split())
                    flags = [f for f in FLAGS if f in have]
    except OSError:
        pass
    cap = os.environ.get("TESSERA_CPU_ISA")
    held = f"; held to TESSERA_CPU_ISA={cap} (see benches/avx2_cap.sh)" if cap else ""
    return f"{model}; {os.cpu_count()} CPUs; flags: {' '.join(flags) or 'unknown'}{held}"


def build_then_settle():
    """Builds every benchmark and the `step` example (so that the scripts' own cargo calls find
    them built and start timing at once), then waits `SETTLE_S` seconds. On the 2-vCPU Zen 5 of
    `benches/log/zen5-2026-12-06-07-lstm-and-math.md`, a minute of two-core load (a build) has the
    host place the two vCPUs far apart for 20 s or more, and two-thread steps timed then ran up to
    1.3x slower (the GPT step 15-17 ms against 12.8-13.9)."""
    env = cargo_env()
    for build in (["cargo", "bench", "-p", "tessera-benches", "--no-run"],
                  ["cargo", "build", "--release", "-p", "tessera-benches", "--example", "step"]):
        subprocess.run(build, cwd=os.path.dirname(HERE), env=env, check=True, stdout=sys.stderr)
    print(f"built; waiting {SETTLE_S} s before timing", flush=True)
    time.sleep(SETTLE_S)


def cargo_env():
    """This environment with the comparison's target folder: `CARGO_TARGET_DIR`, else `target-bench`."""
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(os.path.dirname(HERE), "target-bench"))
    return env


def step_output(flag, what):
    """The lines the `step` example in the comparison's target folder (built by
    `build_then_settle` unless `--skip-cargo`) prints for `flag`, split into words; None when it
    cannot be run."""
    target = cargo_env()["CARGO_TARGET_DIR"]
    try:
        out = subprocess.run([os.path.join(target, "release", "examples", "step"), flag],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no {what}: {e}")
        return None
    return [line.split() for line in out.splitlines()]


def step_flops():
    """{bench workload name: floating-point operations of one step's matrix products}, or None."""
    lines = step_output("--flops", "product counts for the bound table")
    return None if lines is None else {name: int(flops) for name, flops in lines}


def fma_peaks():
    """{threads: the machine's f32 multiply-add peak in FLOP/s}; empty where the CPU has no loop
    for it or the example cannot be run."""
    return {int(t): float(gflops) * 1e9 for t, gflops in step_output("--fma-peak", "multiply-add peak") or []}


def bound_lines(numpy_rows, torch_rows, flops, peaks):
    """The table of each training step against its arithmetic bound and the multiply-add peak
    (see the module's doc)."""
    rates = targets.product_rates(numpy_rows)
    lines = ["", "arithmetic bound = the step's product FLOPs at Tessera's matmul 2048 rate on as many threads "
             f"({', '.join(f'{t} thr {rate / 1e9:.1f} GFLOP/s' for t, rate in sorted(rates.items()))})"]
    if peaks:
        lines.append("peak = the same FLOPs at the f32 multiply-add peak (" + ", ".join(
            f"{t} thr {p / 1e9:.1f} GFLOP/s" + (f", the 2048 product at {rates[t] / p:.0%} of it" if t in rates else "")
            for t, p in sorted(peaks.items())) + ")")
    lines += ["", f"{'workload':<40} {'thr':>3} {'GFLOP':>7} {'bound':>11} {'tessera':>7} {'torch':>7}  (x bound)"
              + ("   tessera x peak" if peaks else "")]
    for r in torch_rows:
        work, rate = flops.get(r.get("bench")), rates.get(r["threads"])
        if work is None or rate is None:
            continue
        bound = work / rate
        line = (f"{r['workload']:<40} {r['threads']:>3} {work / 1e9:>7.3f} {bound * 1e3:>8.3f} ms "
                f"{r['tessera_s'] / bound:>7.2f} {r['reference_s'] / bound:>7.2f}")
        if r["threads"] in peaks:
            line += f"   {r['tessera_s'] / (work / peaks[r['threads']]):>15.2f}"
        lines.append(line)
    return lines


def report(out_dir):
    """The whole comparison's text from the JSON a run left in `out_dir`."""
    def load(name):
        with open(os.path.join(out_dir, name)) as f:
            return json.load(f)
    numpy, torch_rows, paired = load("numpy.json"), load("torch.json"), load("paired.json")
    run = load("run.json") if os.path.exists(os.path.join(out_dir, "run.json")) else \
        {"machine": f"(run.json missing: no product counts or peaks; this machine: {machine()})",
         "flops": {}, "peaks": {}}
    table = []
    for r in numpy["rows"]:
        if r["numpy"] is None:
            continue
        ours, theirs = r["tessera"]["best"], r["numpy"]["best"]
        reference = f"torch {numpy.get('torch')}" if r["op"] == "erf" else f"numpy {numpy['numpy']}"
        table.append((f"{r['op']} {r['size']}", r["threads"], ours, reference, theirs))
    for r in torch_rows:
        table.append((r["workload"], r["threads"], r["tessera_s"], r["reference"], r["reference_s"]))

    lines = [run["machine"], "ratio = tessera / reference (below 1: Tessera faster); numpy rows: best samples, "
             "PyTorch rows: medians", ""]
    lines.append(f"{'workload':<40} {'thr':>3} {'tessera':>11} {'reference':>11} {'ratio':>6}  reference")
    for name, threads, ours, ref_name, theirs in table:
        lines.append(f"{name:<40} {threads:>3} {ours * 1e3:>8.3f} ms {theirs * 1e3:>8.3f} ms {ours / theirs:>6.2f}  {ref_name}")
    peaks = {int(t): p for t, p in run["peaks"].items()}
    if run["flops"]:
        lines += bound_lines(numpy["rows"], torch_rows, run["flops"], peaks)
    lines += [""] + paired["lines"]
    lines += [""] + targets.lines(numpy["rows"], torch_rows, paired["rows"], run["flops"])
    return "\n".join(lines)


def main():
    # End quietly when the reader of the output goes away (`| head`), as the bench examples do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-cargo", action="store_true", help="reuse the last criterion results")
    ap.add_argument("--report-only", action="store_true",
                    help="time nothing: print the table of the run whose JSON is in --out again")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "target", "bench-compare"),
                    help="folder for the scripts' JSON and the table (default target/bench-compare)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if not args.report_only:
        header = machine()
        print(header, flush=True)
        skip = ["--skip-cargo"] if args.skip_cargo else []
        if not args.skip_cargo:
            build_then_settle()
        runs = [("compare_numpy.py", "numpy.json"), ("compare_torch.py", "torch.json"),
                ("compare_paired.py", "paired.json")]
        for script, out in runs:
            print(f"\n==> {script}", flush=True)
            subprocess.run([sys.executable, os.path.join(HERE, script), "--json", os.path.join(args.out, out)] + skip,
                           check=True)
        with open(os.path.join(args.out, "run.json"), "w") as f:
            json.dump({"machine": header, "flops": step_flops() or {}, "peaks": fma_peaks()}, f, indent=1)
    text = report(args.out)
    with open(os.path.join(args.out, "table.txt"), "w") as f:
        f.write(text + "\n")
    print("\n" + text)
    print(f"\n(also in {os.path.join(args.out, 'table.txt')})")


if __name__ == "__main__":
    main()
