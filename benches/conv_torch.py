"""The convolutions of benches/examples/conv_step.rs in PyTorch: conv2d forward and
forward+backward of the Keras MNIST convnet's two layers at batch 64, on 1 and 2 threads.

    python3 benches/conv_torch.py [ITERS]
"""
import sys
import time

import torch


def bench(f, iters):
    """Milliseconds of `f` after two warm-up calls: the fastest of `iters` calls by the wall clock,
    and the mean CPU time of this thread per call (what a call costs on one thread however busy
    the machine is)."""
    f()
    f()
    best, cpu = float("inf"), time.thread_time()
    for _ in range(iters):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best * 1e3, (time.thread_time() - cpu) / iters * 1e3


def fmt(t, threads):
    return f"{t[0]:.2f}" + (f" (cpu {t[1]:.2f})" if threads == 1 else "")


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.manual_seed(0)
    for name, dims, input_grad, oc in [("conv1 1->32 28x28", (64, 1, 28, 28), False, 32),
                                       ("conv2 32->64 26x26", (64, 32, 26, 26), True, 64)]:
        x = torch.randn(*dims, requires_grad=input_grad)
        conv = torch.nn.Conv2d(dims[1], oc, 3)
        dy = torch.ones(64, oc, dims[2] - 2, dims[3] - 2)

        def fwd():
            with torch.no_grad():
                conv(x)

        def both():
            conv.zero_grad(set_to_none=True)
            x.grad = None
            conv(x).backward(dy)

        for threads in (1, 2):
            torch.set_num_threads(threads)
            print(f"torch {name} t{threads}: forward {fmt(bench(fwd, iters), threads)} ms, "
                  f"forward+backward {fmt(bench(both, iters), threads)} ms")


if __name__ == "__main__":
    main()
