"""Issue 20's targets read off one comparison run: each target, on each thread count, with the
figure from the criterion-and-median rows (`numpy.json`, `torch.json`), the figure from the paired
rounds (`paired.json`: the steps, and the square products of the matmul target) and a verdict:
`met` when every reading meets the target, `missed` when none does, `split` when they disagree (on
a host whose speed drifts between the two readings).

`compare_all.py` prints this block last. Run alone, it reads a finished run's JSON again (no numpy
or torch needed): `python3 benches/targets.py [--dir target/bench-compare] [--flops]`, where
`--flops` runs the built `step` example for each step's product FLOPs, which the bound target's
criterion figure needs (without it that row reads from the paired rounds only).

Peak memory of the whole `train mlp` and `train lm` jobs is a target too, but the comparison runs
no whole job: their commands are in `benches/log/issue-20-items.md` ("Peak memory of `train mlp`")
and `benches/log/zen3-2026-12-03.md` ("The whole `train lm` job").
"""
import argparse
import json
import os
import signal

HERE = os.path.dirname(os.path.abspath(__file__))


def _torch_row(torch_rows, bench, threads):
    return next((r for r in torch_rows if r.get("bench") == bench and r["threads"] == threads), None)


def _paired_rounds(paired_rows, bench, threads):
    row = next((r for r in paired_rows if r.get("bench") == bench and r["threads"] == threads), None)
    return row["rounds"] if row else None


def median(values):
    """The middle value (the upper middle for an even count); None for no values."""
    return sorted(values)[len(values) // 2] if values else None


def gain(one_thread_rounds, two_thread_rounds, key="tessera_s"):
    """The median over paired rounds of each round's one-thread time over its two-thread time
    (`key`: "tessera_s" or "torch_s")."""
    return median([one[key] / two[key] for one, two in zip(one_thread_rounds, two_thread_rounds)])


def _numpy_ratios(numpy_rows, threads, keep):
    """Tessera / numpy best-sample ratios of the numpy rows `keep(row)` selects, on `threads`."""
    return [r["tessera"]["best"] / r["numpy"]["best"] for r in numpy_rows
            if r["threads"] == threads and r.get("numpy") and keep(r)]


def product_rates(numpy_rows):
    """{threads: FLOP/s of Tessera's 2048 x 2048 product in this run}: the rate that turns a
    step's product FLOPs into its arithmetic bound."""
    return {r["threads"]: r["work"] / r["tessera"]["best"] for r in numpy_rows
            if r["op"] == "matmul" and r["size"] == "2048"}


def readings(numpy_rows, torch_rows, paired_rows, flops):
    """[(target, threads, criterion figure or None, paired figure or None, limit, higher_is_better)].

    Step targets are time ratios (Tessera / PyTorch, lower is better) except the two-thread gains;
    `flops` maps a step's bench name to its product FLOPs (may be empty)."""
    out = []
    rate = product_rates(numpy_rows)

    def step_ratio(bench, threads):
        row = _torch_row(torch_rows, bench, threads)
        rounds = _paired_rounds(paired_rows, bench, threads)
        return (row["tessera_s"] / row["reference_s"] if row else None,
                median([r["ratio"] for r in rounds]) if rounds else None)

    for label, bench, limit, counts in [
        ("MLP step, batch 32: time <= 0.5x PyTorch", "mlp_step/b32", 0.5, (1,)),
        ("MLP step, batch 256: time <= 0.67x PyTorch", "mlp_step/b256", 0.67, (1,)),
        ("LSTM layer: time <= 0.8x PyTorch", "lstm_layer", 0.8, (1, 2)),
        ("LM step: tokens/s >= 1.5x PyTorch (time ratio)", "lm_step", 1 / 1.5, (1, 2)),
        ("GPT step: time <= 0.67x PyTorch", "gpt_step", 0.67, (1, 2)),
    ]:
        for threads in counts:
            out.append((label, threads, *step_ratio(bench, threads), limit, False))

    for threads in (1, 2):
        row = _torch_row(torch_rows, "lm_step", threads)
        crit = None
        if row and "lm_step" in flops and threads in rate:
            crit = row["tessera_s"] / (flops["lm_step"] / rate[threads])
        rounds = _paired_rounds(paired_rows, "lm_step", threads)
        paired = median([r["x_bound"] for r in rounds if r.get("x_bound") is not None]) if rounds else None
        out.append(("LM step: time <= 1.3x its product bound", threads, crit, paired, 1.3, False))

    for bench, name in (("lm_step", "LM"), ("gpt_step", "GPT")):
        one, two = _torch_row(torch_rows, bench, 1), _torch_row(torch_rows, bench, 2)
        crit = one["tessera_s"] / two["tessera_s"] if one and two else None
        r1, r2 = _paired_rounds(paired_rows, bench, 1), _paired_rounds(paired_rows, bench, 2)
        paired = gain(r1, r2) if r1 and r2 else None
        out.append((f"{name} step: 2 threads >= 1.6x as fast as 1", 2, crit, paired, 1.6, True))

    for label, ops, limit in [
        ("matmul n = 128..2048: >= 0.95x OpenBLAS's speed (slowest n)", ("matmul",), 1 / 0.95),
        ("exp, tanh, softmax, log-softmax: >= numpy's speed (slowest)", ("exp", "tanh", "softmax", "log_softmax"), 1.0),
    ]:
        for threads in (1, 2):
            ratios = _numpy_ratios(numpy_rows, threads, lambda r: r["op"] in ops)
            paired = _paired_product_ratio(paired_rows, threads) if ops == ("matmul",) else None
            out.append((label, threads, max(ratios) if ratios else None, paired, limit, False))
    return out


def _paired_product_ratio(paired_rows, threads):
    """The slowest n's median ratio (Tessera / numpy) over the paired rounds of the square
    products (`compare_paired.py`'s `matmul/N` rows) on `threads`; None without such rows."""
    medians = [median([r["ratio"] for r in row["rounds"]]) for row in paired_rows
               if row.get("bench", "").startswith("matmul/") and row["threads"] == threads]
    return max(medians) if medians else None


def verdict(crit, paired, limit, higher_is_better):
    meets = [(v >= limit) if higher_is_better else (v <= limit) for v in (crit, paired) if v is not None]
    if not meets:
        return "not measured"
    return "met" if all(meets) else "missed" if not any(meets) else "split"


def lines(numpy_rows, torch_rows, paired_rows, flops):
    """The block of text: one line per target and thread count."""
    out = ["issue 20 targets: criterion rows / paired rounds (time ratios Tessera / reference, "
           "except the gains); met = every reading meets it",
           f"{'target':<62} {'thr':>3} {'criterion':>9} {'paired':>7}  verdict"]
    for label, threads, crit, paired, limit, higher in readings(numpy_rows, torch_rows, paired_rows, flops):
        show = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        out.append(f"{label:<62} {threads:>3} {show(crit):>9} {show(paired):>7}  {verdict(crit, paired, limit, higher)}")
    return out


def main():
    # End quietly when the reader of the output goes away (`| head`), as the bench examples do.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(os.path.dirname(HERE), "target", "bench-compare"),
                    help="the folder of a finished comparison's numpy.json, torch.json and paired.json")
    ap.add_argument("--flops", action="store_true",
                    help="run the built `step` example (in CARGO_TARGET_DIR, else target-bench) for the "
                         "product FLOPs the bound targets' criterion figures need")
    args = ap.parse_args()

    def load(name, default):
        path = os.path.join(args.dir, name)
        if not os.path.exists(path):
            return default
        with open(path) as f:
            return json.load(f)
    numpy_rows = load("numpy.json", {"rows": []})["rows"]
    torch_rows = load("torch.json", [])
    paired_rows = load("paired.json", {"rows": []})["rows"]
    flops = {}
    if args.flops:
        from compare_all import step_flops
        flops = step_flops() or {}
    print("\n".join(lines(numpy_rows, torch_rows, paired_rows, flops)))


if __name__ == "__main__":
    main()
