"""The `tessera train mlp` job in PyTorch, for the wall-time comparison on full MNIST.

Same model (Linear 784-128 ReLU, 128-64 ReLU, 64-10 softmax), sparse categorical cross-entropy on
the probabilities (Keras' form: clip, log, renormalise, NLL), Adam lr 1e-3, batch 32, 10 epochs,
10% of the training set held out for validation, then test accuracy on t10k.

    V/bin/python benches/mnist_torch.py path/to/mnist [--threads 1]
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(folder, name):
    for suffix in ("", ".gz"):
        p = os.path.join(folder, name + suffix)
        if os.path.exists(p):
            return idx(p)
    raise SystemExit(f"{name} not found in {folder}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.tensor(load(a.data, "train-images-idx3-ubyte").reshape(-1, 784), dtype=torch.float32) / 255
    y = torch.tensor(load(a.data, "train-labels-idx1-ubyte"), dtype=torch.long)
    xt = torch.tensor(load(a.data, "t10k-images-idx3-ubyte").reshape(-1, 784), dtype=torch.float32) / 255
    yt = torch.tensor(load(a.data, "t10k-labels-idx1-ubyte"), dtype=torch.long)
    perm = torch.randperm(len(x))
    val, tr = perm[: len(x) // 10], perm[len(x) // 10:]
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(-1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_fn(p, t):
        return nn.functional.nll_loss(torch.log_softmax(p.clamp(1e-7, 1 - 1e-7).log(), -1), t)

    start = time.perf_counter()
    for epoch in range(a.epochs):
        order = tr[torch.randperm(len(tr))]
        for i in range(0, len(order), 32):
            b = order[i:i + 32]
            opt.zero_grad()
            loss = loss_fn(model(x[b]), y[b])
            loss.backward()
            opt.step()
        with torch.no_grad():
            va = (model(x[val]).argmax(-1) == y[val]).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f} val_accuracy {va:.4f}")
    secs = time.perf_counter() - start
    with torch.no_grad():
        acc = (model(xt).argmax(-1) == yt).float().mean().item()
    print(f"torch {torch.__version__}, {a.threads} thread(s): {a.epochs} epochs in {secs:.1f} s, test accuracy {acc * 100:.2f}%")


if __name__ == "__main__":
    main()
