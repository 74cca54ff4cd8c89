"""The `tessera train lm` job in PyTorch, for the peak-memory and wall-time comparison (issue 20).

The same job as the program's defaults: the Shakespeare sample Tessera ships (or `--corpus`),
cut by lines (last 10% test, the 10% before it validation), lowercased and split at whitespace and
punctuation (every punctuation character a token, as BERT's basic split), a vocabulary of the
training words (at most 10,000 entries with the four specials `<pad> <unk> <bos> <eos>`; `<eos>`
ends every line), the token streams cut into 32 rows for training and 10 for evaluation, windows
of 35 steps with the state carried from window to window; Embedding 128, dropout 0.3, LSTM 256,
dropout 0.3, Linear over the vocabulary (embedding and decoder uniform in ±0.1, decoder bias 0); Adam lr 2e-3 with gradients clipped to norm 0.5, the
learning rate quartered when the validation perplexity does not improve, and the validation and
test perplexity after the last epoch.

    V/bin/python benches/lm_torch.py [--corpus FILE...] [--epochs 6] [--threads 1]
    /usr/bin/time -v V/bin/python benches/lm_torch.py --epochs 1   # "Maximum resident set size"
"""
import argparse
import collections
import gzip
import math
import os
import time
import unicodedata

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHIPPED = os.path.join(ROOT, "crates", "tessera", "data", "shakespeare_7_plays.txt.gz")
SPECIALS = ["<pad>", "<unk>", "<bos>", "<eos>"]


def is_punctuation(ch):
    o = ord(ch)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def words(line):
    out, word = [], []
    for ch in line:
        if ch.isspace() or is_punctuation(ch):
            if word:
                out.append("".join(word))
                word = []
            if not ch.isspace():
                out.append(ch)
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


def read(paths):
    if not paths:
        with gzip.open(SHIPPED, "rt", encoding="utf-8") as f:
            return f.read()
    text = ""
    for p in paths:
        with open(p, encoding="utf-8") as f:
            text += f.read()
        if not text.endswith("\n"):
            text += "\n"
    return text


def split_lines(text, val=0.1, test=0.1):
    lines = text.splitlines()
    n = len(lines)
    n_test, n_val = round(n * test), round(n * val)
    train_end = n - n_val - n_test
    return lines[:train_end], lines[train_end:train_end + n_val], lines[train_end + n_val:]


def vocabulary(lines, max_size):
    counts = collections.Counter(w for l in lines for w in words(l.lower()))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_size - len(SPECIALS)]
    return {w: i for i, w in enumerate(SPECIALS + [w for w, _ in ranked])}


def stream(lines, vocab):
    unk, eos = vocab["<unk>"], vocab["<eos>"]
    ids = []
    for l in lines:
        ids.extend(vocab.get(w, unk) for w in words(l.lower()))
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def rows(ids, n):
    """`[steps, n]`: the stream cut into n rows, the tokens that do not fill the last left out."""
    per = len(ids) // n
    return ids[: per * n].view(n, per).t().contiguous()


class Lm(torch.nn.Module):
    def __init__(self, vocab, embed=128, hidden=256, dropout=0.3):
        super().__init__()
        self.drop = torch.nn.Dropout(dropout)
        self.encoder = torch.nn.Embedding(vocab, embed)
        self.rnn = torch.nn.LSTM(embed, hidden)
        self.decoder = torch.nn.Linear(hidden, vocab)
        # As Tessera's LM (and PyTorch's word_language_model example): embedding and decoder
        # uniform in +-0.1, decoder bias zero, the LSTM at PyTorch's defaults.
        torch.nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        torch.nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        torch.nn.init.zeros_(self.decoder.bias)

    def forward(self, ids, state):
        out, state = self.rnn(self.drop(self.encoder(ids)), state)
        return self.decoder(self.drop(out)), state


def windows(data, seq):
    for i in range(0, data.size(0) - 1, seq):
        n = min(seq, data.size(0) - 1 - i)
        yield data[i:i + n], data[i + 1:i + 1 + n]


def evaluate(model, data, seq):
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in windows(data, seq):
            logits, state = model(x, state)
            total += torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    return total / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", nargs="*", default=[])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=35)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    train_lines, val_lines, test_lines = split_lines(read(a.corpus))
    vocab = vocabulary(train_lines, 10_000)
    train, val, test = (stream(l, vocab) for l in (train_lines, val_lines, test_lines))
    print(f"data: {len(train)} / {len(val)} / {len(test)} tokens (train / validation / test), vocabulary {len(vocab)}")
    train_rows, val_rows, test_rows = rows(train, a.batch_size), rows(val, 10), rows(test, 10)
    model = Lm(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    best, started = float("inf"), time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        model.train()
        state, total, count, t0 = None, 0.0, 0, time.perf_counter()
        for x, y in windows(train_rows, a.seq_len):
            state = None if state is None else tuple(s.detach() for s in state)
            opt.zero_grad()
            logits, state = model(x, state)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, len(vocab)), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            total += loss.item() * y.numel()
            count += y.numel()
        secs = time.perf_counter() - t0
        val_loss = evaluate(model, val_rows, a.seq_len)
        if val_loss < best:
            best = val_loss
        else:
            for g in opt.param_groups:
                g["lr"] /= 4
        print(
            f"epoch {epoch}/{a.epochs}: loss {total / count:.4f}  val_ppl {math.exp(val_loss):.2f}  "
            f"seconds {secs:.1f}  tokens_per_sec {count / secs:.0f}"
        )
    print(f"trained {a.epochs} epochs in {time.perf_counter() - started:.1f} s")
    print(f"validation perplexity {math.exp(evaluate(model, val_rows, a.seq_len)):.2f}, "
          f"test perplexity {math.exp(evaluate(model, test_rows, a.seq_len)):.2f}")


if __name__ == "__main__":
    main()
