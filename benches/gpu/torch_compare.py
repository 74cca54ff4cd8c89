"""The ops of Tessera's gpu-bench and the training steps of its gpu-steps, in PyTorch on the same
GPU, timed with CUDA events.

Writes one JSON object per line (same fields as gpu-bench) to --out. Run by benches/gpu/run.sh.
"""
import argparse
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import compare_torch  # noqa: E402  (benches/compare_torch.py: the LM step's definition)


def time_ms(f, iters):
    f()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        f()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def training_steps(dev, iters, report):
    """The MLP step (batch 256, fused Adam) and the LM step of benches/bin/gpu-steps.rs, eager (the
    LM step as benches/compare_torch.py defines it)."""
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x, y = torch.randn(256, 784, device=dev), torch.arange(256, device=dev) % 10

    def mlp():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    report("mlp_step", "f32", "b256", time_ms(mlp, iters), 0, 0)

    lm_step = compare_torch.lm_step_fn(dev)
    report("lm_step", "f32", "v5000e128h256s35b32", time_ms(lm_step, max(iters // 5, 1)), 0, 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--iters", type=int, default=20)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # tessera's f32 matmul computes in f32
    dev = torch.device("cuda")
    rows = []

    def report(op, dtype, shape, ms, nbytes, flops):
        s = ms / 1e3
        rows.append(dict(impl="torch", op=op, dtype=dtype, shape=shape, ms=ms, gbps=nbytes / s / 1e9, tflops=flops / s / 1e12))
        print(json.dumps(rows[-1]))

    n = 256 << 20
    x, y = torch.rand(n, device=dev) * 2 - 1, torch.rand(n, device=dev) * 2 - 1
    report("add", "f32", str(n), time_ms(lambda: x + y, a.iters), 12 * n, n)
    report("exp", "f32", str(n), time_ms(lambda: torch.exp(x), a.iters), 8 * n, n)
    report("dropout", "f32", str(n), time_ms(lambda: torch.nn.functional.dropout(x, 0.1), a.iters), 8 * n, 0)
    report("cast_to_bf16", "f32", str(n), time_ms(lambda: x.to(torch.bfloat16), a.iters), 6 * n, 0)
    xh = x.to(torch.bfloat16)
    report("cast_to_f32", "bf16", str(n), time_ms(lambda: xh.to(torch.float32), a.iters), 6 * n, 0)
    del xh
    del x, y
    m = torch.rand(65536, 1024, device=dev)
    report("sum_dim1", "f32", "65536x1024", time_ms(lambda: m.sum(1), a.iters), 4 * (m.numel() + 65536), m.numel())
    report("softmax_dim1", "f32", "65536x1024", time_ms(lambda: torch.softmax(m, 1), a.iters), 8 * m.numel(), 0)
    report("logsumexp_dim1", "f32", "65536x1024", time_ms(lambda: torch.logsumexp(m, 1), a.iters),
           4 * (m.numel() + 65536), 0)
    w, b = torch.rand(1024, device=dev), torch.rand(1024, device=dev)
    report("layer_norm", "f32", "65536x1024",
           time_ms(lambda: torch.nn.functional.layer_norm(m, (1024,), w, b, 1e-5), a.iters), 8 * m.numel(), 0)
    del m
    for rows_, classes in [(1120, 5000), (8192, 32000)]:
        logits = (torch.rand(rows_, classes, device=dev) * 2 - 1).requires_grad_()
        target = torch.arange(rows_, device=dev) * 7919 % classes

        def ce():
            loss = torch.nn.functional.cross_entropy(logits, target)
            torch.autograd.grad(loss, logits)

        report("cross_entropy_fwd_bwd", "f32", f"{rows_}x{classes}", time_ms(ce, a.iters), 12 * rows_ * classes, 0)
        del logits
    xp = torch.rand(64, 64, 24, 24, device=dev, requires_grad=True)

    def pool():
        y = torch.nn.functional.max_pool2d(xp, 2)
        torch.autograd.grad(y, xp, y)

    n = xp.numel()
    report("max_pool2d_fwd_bwd", "f32", "64x64x24x24", time_ms(pool, a.iters), 18 * n, 0)
    xb = torch.rand(64, 32, 26, 26, device=dev, requires_grad=True)

    def bn():
        y = torch.nn.functional.batch_norm(xb, None, None, training=True)
        torch.autograd.grad(y, xb, y)

    report("batch_norm_fwd_bwd", "f32", "64x32x26x26", time_ms(bn, a.iters), 4 * 9 * xb.numel(), 0)
    del xp, xb
    torch.backends.cudnn.allow_tf32 = False  # likewise tessera's convolutions
    x = torch.rand(64, 32, 26, 26, device=dev, requires_grad=True)
    conv = torch.nn.Conv2d(32, 64, 3, bias=False).to(dev)
    dy = torch.rand(64, 64, 24, 24, device=dev)
    report("conv2d_fwd_bwd", "f32", "64x32x26x26,64x32x3x3",
           time_ms(lambda: torch.autograd.grad(conv(x), [x, conv.weight], dy), a.iters), 0, 3 * 2 * dy.numel() * 32 * 9)
    del x, conv, dy
    for name, dt in [("f32", torch.float32), ("bf16", torch.bfloat16)]:
        p_, q = torch.rand(4096, 4096, device=dev, dtype=dt), torch.rand(4096, 4096, device=dev, dtype=dt)
        report("matmul", name, "4096x4096x4096", time_ms(lambda: p_ @ q, a.iters), 3 * p_.numel() * p_.element_size(), 2 * 4096**3)
    nbytes = 1 << 30
    host = torch.ones(nbytes, dtype=torch.uint8)  # pageable, as tessera's Vec
    d = host.to(dev)
    report("copy_h2d", "u8", "1GiB", time_ms(lambda: host.to(dev), 5), nbytes, 0)
    report("copy_d2h", "u8", "1GiB", time_ms(lambda: d.cpu(), 5), nbytes, 0)
    report("copy_d2d", "u8", "1GiB", time_ms(lambda: d.clone(), a.iters), 2 * nbytes, 0)
    training_steps(dev, a.iters, report)
    with open(a.out, "w") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n")


if __name__ == "__main__":
    main()
