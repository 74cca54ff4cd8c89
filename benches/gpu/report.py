"""Writes report.md and report.json for a run of benches/gpu/run.sh, from what it left in OUT.

Reads OUT/steps.jsonl (one line per step: name, ok, seconds), the run folders under OUT/runs
(each training run's results.json), and OUT/tessera.jsonl / OUT/torch.jsonl (gpu-bench and the
same ops in PyTorch). Checks the training runs against the CPU reference runs:

- train mlp on the device: test accuracy within 1 point of the CPU run with the same seed;
- train mlp in bf16 and f16 on the device: within 1 point of the device's f32 run;
- train mlp --distributed on the device (a world of one process, gradients through NCCL): within
  1 point of the device's run without it;
- train lm on the device, 1 epoch: validation perplexity within 2% of the CPU run.

Exit status 1 when a step failed or a check did not pass. Standard library only.
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


def checks(out):
    rows = []
    for name, run, reference, metric, kind, tolerance in CHECKS:
        value, want = result(out, run, metric), result(out, reference, metric)
        if value is None or want is None:
            rows.append(dict(check=name, metric=metric, value=value, reference=want, ok=False, why="a run is missing"))
            continue
        diff = abs(value - want) if kind == "absolute" else abs(value - want) / abs(want)
        rows.append(dict(check=name, metric=metric, value=value, reference=want, difference=diff,
                         tolerance=tolerance, kind=kind, ok=diff <= tolerance))
    return rows


def benchmarks(out):
    ours = {(r["op"], r["dtype"]): r for r in jsonl(out / "tessera.jsonl")}
    torch = {(r["op"], r["dtype"]): r for r in jsonl(out / "torch.jsonl")}
    rows = []
    for key, r in ours.items():
        t = torch.get(key)
        rows.append(dict(op=key[0], dtype=key[1], shape=r.get("shape"), tessera_ms=r["ms"],
                         torch_ms=t["ms"] if t else None, ratio=r["ms"] / t["ms"] if t else None,
                         tessera_gbps=r.get("gbps")))
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
        lines.append(f"| {c['check']} | {c['metric']} | {fmt(c['value'], '.4f')} | {fmt(c['reference'], '.4f')} | "
                     f"{fmt(c.get('difference'), '.4f')} | {tol} | {'ok' if c['ok'] else 'FAILED'} |")
    if report["benchmarks"]:
        lines += ["", "## Ops beside PyTorch (ratio = Tessera time / PyTorch time)", "",
                  "| op | dtype | shape | Tessera ms | PyTorch ms | ratio | Tessera GB/s |", "|---|---|---|---|---|---|---|"]
        for b in report["benchmarks"]:
            lines.append(f"| {b['op']} | {b['dtype']} | {b['shape']} | {fmt(b['tessera_ms'], '.3f')} | "
                         f"{fmt(b['torch_ms'], '.3f')} | {fmt(b['ratio'], '.2f')} | {fmt(b['tessera_gbps'], '.0f')} |")
    lines += ["", f"**{'All passed.' if report['ok'] else 'Something failed: see the steps and checks above.'}**", ""]
    return "\n".join(lines)


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target-gpu/results")
    gpu = (out / "gpu.txt").read_text() if (out / "gpu.txt").exists() else ""
    steps = jsonl(out / "steps.jsonl")
    report = dict(gpu=gpu, steps=steps, checks=checks(out), benchmarks=benchmarks(out))
    report["ok"] = all(s["ok"] for s in steps) and all(c["ok"] for c in report["checks"])
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
