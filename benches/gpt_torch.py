"""nanoGPT's model and CPU recipe in PyTorch, the reference for `tessera train gpt` (issue 14).

The model follows nanoGPT's `model.py`: learned positions, pre-LayerNorm blocks, fused q/k/v
projection, `F.scaled_dot_product_attention` with `is_causal`, exact GELU MLP of width 4x, tied
input and output embeddings, N(0, 0.02) init with the residual projections scaled by
1/sqrt(2 n_layer). The recipe is nanoGPT's character-level Shakespeare on a CPU: 4 layers, 4 heads,
embedding 128, block 64, batch 12, AdamW (0.9, 0.99) with weight decay 0.1 on tensors of two or
more dimensions, learning rate 1e-3 with 100 warm-up iterations and cosine decay to 1e-4 over
2,000 iterations, clip 1.0, no dropout. The data is the corpus Tessera ships, cut as nanoGPT's
prepare script does (first 90% trains, last 10% validates, sorted characters as the vocabulary).

    V/bin/python benches/gpt_torch.py step [--threads 1 2] [--json FILE]   # seconds per iteration
    V/bin/python benches/gpt_torch.py train [--iters 2000] [--json FILE]  # final validation loss

`benches/compare_torch.py` times the step beside Tessera's `gpt_step` benchmark. Needs PyTorch (and numpy):
python3 -m venv V && V/bin/pip install torch numpy
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.join(ROOT, "crates", "tessera", "data", "shakespeare_7_plays.txt.gz")

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("PyTorch is missing: python3 -m venv V && V/bin/pip install torch numpy, then run this with V/bin/python")


class Block(nn.Module):
    def __init__(self, n_embd, n_head, bias):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.attn_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.mlp_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

    def attention(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        heads = lambda z: z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        return self.attn_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab, block_size, n_layer, n_head, n_embd, bias=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))

    def forward(self, ids, targets):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def load_corpus(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(round(len(ids) * 0.9))
    return ids[:cut], ids[cut:], len(chars)


def batch(data, block, size, gen):
    starts = torch.randint(len(data) - block, (size,), generator=gen)
    x = torch.stack([data[i:i + block] for i in starts])
    y = torch.stack([data[i + 1:i + 1 + block] for i in starts])
    return x, y


def optimizer(model, lr, weight_decay, beta2):
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, beta2))


def nanogpt_lr(it, lr, min_lr, warmup, total):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > total:
        return min_lr
    ratio = (it - warmup) / (total - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def recipe(args):
    train, val, vocab = load_corpus(args.corpus)
    torch.manual_seed(args.seed)
    model = Gpt(vocab, args.block_size, args.layers, args.heads, args.embed)
    return model, optimizer(model, args.lr, 0.1, 0.99), train, val


def step_fn(model, opt, data, args, gen):
    def step():
        x, y = batch(data, args.block_size, args.batch_size, gen)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss
    return step


def time_steps(args):
    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        model, opt, train, _ = recipe(args)
        step = step_fn(model, opt, train, args, torch.Generator().manual_seed(args.seed))
        for _ in range(10):
            step()
        times = []
        end = time.perf_counter() + args.seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        times.sort()
        results[f"t{threads}"] = {"median_s": times[len(times) // 2], "best_s": times[0], "samples": len(times)}
        print(f"torch {torch.__version__}, {threads} thread(s): {times[len(times) // 2] * 1e3:.2f} ms per iteration "
              f"(median of {len(times)}, best {times[0] * 1e3:.2f} ms)")
    return results


@torch.no_grad()
def estimate(model, data, args, gen):
    return sum(model(*batch(data, args.block_size, args.batch_size, gen)).item() for _ in range(args.eval_iters)) / args.eval_iters


def train(args):
    torch.set_num_threads(args.threads[0])
    model, opt, train_ids, val_ids = recipe(args)
    gen = torch.Generator().manual_seed(args.seed)
    eval_gen = torch.Generator().manual_seed(args.seed + 1)
    step = step_fn(model, opt, train_ids, args, gen)
    history = []
    started = time.perf_counter()
    for it in range(args.iters + 1):
        if it % args.eval_interval == 0 or it == args.iters:
            model.eval()
            losses = {"iter": it, "train_loss": estimate(model, train_ids, args, eval_gen),
                      "val_loss": estimate(model, val_ids, args, eval_gen)}
            model.train()
            history.append(losses)
            print(f"step {it}: train loss {losses['train_loss']:.4f}, val loss {losses['val_loss']:.4f}", flush=True)
        if it == args.iters:
            break
        for group in opt.param_groups:
            group["lr"] = nanogpt_lr(it, args.lr, 1e-4, 100, args.iters)
        step()
    secs = time.perf_counter() - started
    print(f"torch {torch.__version__}, {args.threads[0]} thread(s): {args.iters} iterations in {secs:.1f} s, "
          f"final val loss {history[-1]['val_loss']:.4f}")
    return {"history": history, "seconds": secs, "final_val_loss": history[-1]["val_loss"]}


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["step", "train"])
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=5.0, help="timing per thread count (step)")
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--eval-interval", type=int, default=250)
    ap.add_argument("--eval-iters", type=int, default=200)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--embed", type=int, default=128)
    ap.add_argument("--block-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--json", help="write the results here")
    return ap


def main():
    args = parser().parse_args()
    out = time_steps(args) if args.mode == "step" else train(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
