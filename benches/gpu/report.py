"""Writes report.md and report.json for a run of benches/gpu/run.sh, from what it left in OUT.

Reads OUT/steps.jsonl (one line per step: name, ok, seconds), the run folders under OUT/runs
(each training run's results.json), and OUT/tessera.jsonl / OUT/torch.jsonl (gpu-bench and the
same ops in PyTorch). Checks the training runs against the CPU reference runs:

- train mlp on the device: test accuracy within 1 point of the CPU run with the same seed;
- train mlp in bf16 and f16 on the device: within 1 point of the device's f32 run;
- train mlp --distributed on the device (a world of one process, gradients through NCCL): within
  1 point of the device's run without it;
- train lm on the device, 1 epoch: validation perplexity within 2% of the CPU run.

A check whose runs were not asked for (run.sh's ONLY without "train") is "not run". Beside each
benchmark it puts issue 15's target where one applies: elementwise ops and casts (the rows over a
flat count of elements) at least 85% of the best device-to-device copy's bandwidth (Tessera's or
PyTorch's), softmax, log-sum-exp, cross-entropy and LayerNorm at least 70% (rows that move
256 MiB or more; below that a launch's latency decides), matmul within 5% of PyTorch's time, the MLP and LM training steps at most PyTorch's time.

Exit status 1 when a step failed or a check did not pass (a target missed does not fail the run:
the report counts them). Standard library only.
"""
import json
import pathlib
import sys

CHECKS = [
    # name, run, reference run, metric, kind of tolerance, tolerance
    ("mlp on the device vs the CPU", "mlp-device", "mlp-cpu", "test_accuracy", "absolute", 0.01),
    ("mlp bf16 vs f32 on the device", "mlp-bf16", "mlp-device", "test_accuracy", "absolute", 0.01),
    ("mlp f16 vs f32 on the device", "mlp-f16", "mlp-device", "test_accuracy", "absolute", 0.01),
    ("mlp --distributed (NCCL, world 1) vs alone", "mlp-nccl", "mlp-device", "test_accuracy", "absolute", 0.01),
    ("lm on the device vs the CPU", "lm-device", "lm-cpu", "val_ppl", "relative", 0.02),
]


def jsonl(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def result(out, run, metric):
    path = out / "runs" / run / "results.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get(metric)


def checks(out, steps):
    rows = []
    attempted = {s["name"] for s in steps}
    for name, run, reference, metric, kind, tolerance in CHECKS:
        value, want = result(out, run, metric), result(out, reference, metric)
        if not {f"train-{run}", f"train-{reference}"} & attempted:
            rows.append(dict(check=name, metric=metric, value=None, reference=None, ok=True, not_run=True))
            continue
        if value is None or want is None:
            rows.append(dict(check=name, metric=metric, value=value, reference=want, ok=False, why="a run is missing"))
            continue
        diff = abs(value - want) if kind == "absolute" else abs(value - want) / abs(want)
        rows.append(dict(check=name, metric=metric, value=value, reference=want, difference=diff,
                         tolerance=tolerance, kind=kind, ok=diff <= tolerance))
    return rows


BANDWIDTH_BOUND = {"softmax_dim1", "logsumexp_dim1", "cross_entropy_fwd_bwd", "layer_norm"}


def target(row, copy_gbps):
    """Issue 15's target for a benchmark row, as (what, met), or None where it sets none."""
    op, shape = row["op"], row["shape"] or ""
    share = row["tessera_gbps"] / copy_gbps if copy_gbps and row["tessera_gbps"] else None
    if shape.isdigit() or op in BANDWIDTH_BOUND:
        if share is not None and row["tessera_gbps"] * row["tessera_ms"] * 1e6 < 256 << 20:
            return None  # under 256 MiB of traffic a launch's latency, not bandwidth, decides
        floor = 0.85 if shape.isdigit() else 0.70
        if share is None:
            return (f">= {floor:.0%} of copy", None)
        return (f"{share:.0%} of copy (>= {floor:.0%})", share >= floor)
    ceiling = {"matmul": 1.05, "mlp_step": 1.0, "lm_step": 1.0}.get(op)
    if ceiling is None:
        return None
    if row["ratio"] is None:
        return (f"ratio <= {ceiling:g}", None)
    return (f"ratio <= {ceiling:g}", row["ratio"] <= ceiling)


def benchmarks(out):
    key = lambda r: (r["op"], r["dtype"], r.get("shape"))  # noqa: E731 (one op at several shapes)
    ours = {key(r): r for r in jsonl(out / "tessera.jsonl")}
    torch = {key(r): r for r in jsonl(out / "torch.jsonl")}
    rows = []
    for k, r in ours.items():
        t = torch.get(k)
        rows.append(dict(op=k[0], dtype=k[1], shape=k[2], tessera_ms=r["ms"],
                         torch_ms=t["ms"] if t else None, ratio=r["ms"] / t["ms"] if t else None,
                         tessera_gbps=r.get("gbps")))
    copies = [r["gbps"] for r in list(ours.values()) + list(torch.values()) if r["op"] == "copy_d2d" and r.get("gbps")]
    copy_gbps = max(copies, default=None)
    for row in rows:
        t = target(row, copy_gbps)
        row["target"], row["target_met"] = t if t else (None, None)
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def markdown(report):
    lines = ["# GPU check", ""]
    if report["gpu"]:
        lines += ["```", report["gpu"].strip(), "```", ""]
    lines += ["## Steps", "", "| step | result | seconds |", "|---|---|---|"]
    lines += [f"| {s['name']} | {'ok' if s['ok'] else 'FAILED'} | {s['seconds']} |" for s in report["steps"]]
    lines += ["", "## Training on the device against the references", "",
              "| check | metric | value | reference | difference | tolerance | result |", "|---|---|---|---|---|---|---|"]
    for c in report["checks"]:
        tol = "-" if "tolerance" not in c else f"{c['tolerance']:g} ({c['kind']})"
        verdict = "not run" if c.get("not_run") else "ok" if c["ok"] else "FAILED"
        lines.append(f"| {c['check']} | {c['metric']} | {fmt(c['value'], '.4f')} | {fmt(c['reference'], '.4f')} | "
                     f"{fmt(c.get('difference'), '.4f')} | {tol} | {verdict} |")
    if report["benchmarks"]:
        lines += ["", "## Ops beside PyTorch (ratio = Tessera time / PyTorch time)", "",
                  "| op | dtype | shape | Tessera ms | PyTorch ms | ratio | Tessera GB/s | issue 15's target | met |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for b in report["benchmarks"]:
            met = {True: "yes", False: "**no**", None: "-"}[b["target_met"]]
            lines.append(f"| {b['op']} | {b['dtype']} | {b['shape']} | {fmt(b['tessera_ms'], '.3f')} | "
                         f"{fmt(b['torch_ms'], '.3f')} | {fmt(b['ratio'], '.2f')} | {fmt(b['tessera_gbps'], '.0f')} | "
                         f"{b['target'] or '-'} | {met} |")
        judged = [b["target_met"] for b in report["benchmarks"] if b["target_met"] is not None]
        lines += ["", f"Targets met: {sum(judged)} of {len(judged)} judged."]
    lines += ["", f"**{'All passed.' if report['ok'] else 'Something failed: see the steps and checks above.'}**", ""]
    return "\n".join(lines)


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target-gpu/results")
    gpu = (out / "gpu.txt").read_text() if (out / "gpu.txt").exists() else ""
    steps = jsonl(out / "steps.jsonl")
    report = dict(gpu=gpu, steps=steps, checks=checks(out, steps), benchmarks=benchmarks(out))
    report["ok"] = all(s["ok"] for s in steps) and all(c["ok"] for c in report["checks"])
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
