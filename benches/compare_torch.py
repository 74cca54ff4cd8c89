"""Training steps in Tessera and PyTorch on this machine, in the same run (on 1 and 2 threads; the MLP
on 1; `--seq2seq` runs only the Transformer encoder-decoder step).

Runs `cargo bench -p tessera-benches --bench training_step` (unless --skip-cargo), times the same
workloads in PyTorch, and prints the ratio tessera / torch (below 1: Tessera is faster).

Needs PyTorch: python3 -m venv V && V/bin/pip install torch ; then V/bin/python benches/compare_torch.py
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
except ImportError:
    sys.exit("PyTorch is missing: python3 -m venv V && V/bin/pip install torch, then run this with V/bin/python")


def median_time(step, seconds=3.0, warmup=20):
    for _ in range(warmup):
        step()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(10):
            step()
        times.append((time.perf_counter() - t0) / 10)
    times.sort()
    return times[len(times) // 2]


def mlp_step(batch, fused):
    """Seconds per step of the Keras MLP (784-128-64-10, ReLU, Adam) at `batch`."""
    return median_time(mlp_step_fn(batch, fused))


def mlp_step_fn(batch, fused):
    """The MLP's training step as a function (`fused`: PyTorch's fused Adam)."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    x = torch.randn(batch, 784)
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def recurrent_layer(cls):
    """Seconds per forward and backward of one `cls` layer (see `recurrent_layer_fn`)."""
    return median_time(recurrent_layer_fn(cls))


def recurrent_layer_fn(cls):
    """One `cls` (torch.nn.LSTM or GRU) layer, batch 32, seq 35, 128 -> 256, batch-first: forward
    and backward of the outputs' sum (tessera_benches::workloads::RecurrentLayerWorkload), as a
    function."""
    torch.manual_seed(0)
    layer = cls(128, 256, batch_first=True)
    x = torch.randn(32, 35, 128)

    def step():
        layer.zero_grad()
        out, _ = layer(x)
        out.sum().backward()

    return step


def lm_step_fn(device="cpu"):
    """One step of the language model of issue 8 (tessera_benches::lm_workload) on `device`, as a
    function: vocabulary 5000, embedding 128, LSTM 256, dropout 0.2, 35 steps of 32 streams,
    Adam clipping at norm 0.5, the state carried from window to window."""
    torch.manual_seed(0)
    nn = torch.nn
    vocab, embed, hidden, seq, batch = 5000, 128, 256, 35, 32

    class Lm(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(vocab, embed)
            self.rnn = nn.LSTM(embed, hidden)
            self.decoder = nn.Linear(hidden, vocab)

        def forward(self, ids, state):
            out, state = self.rnn(self.drop(self.encoder(ids)), state)
            return self.decoder(self.drop(out)).view(-1, vocab), state

    model = Lm().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = (torch.arange(8 * seq * batch + batch, device=device) * 7919 % vocab).view(batch, -1).t().contiguous()
    windows = [(ids[i * seq:(i + 1) * seq], ids[i * seq + 1:(i + 1) * seq + 1].reshape(-1)) for i in range(8)]
    state = [None, 0]

    def step():
        x, y = windows[state[1] % len(windows)]
        state[1] += 1
        hidden_state = None if state[0] is None else tuple(h.detach() for h in state[0])
        opt.zero_grad()
        logits, state[0] = model(x, hidden_state)
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()

    return step


def lm_step():
    """The language-model step of issue 8 on the CPU: returns seconds per step."""
    return median_time(lm_step_fn(), seconds=8.0, warmup=5)


def cnn_step(threads):
    """Seconds per step of `tessera train cnn`'s convnet (softmax output, log + NLL as Keras'
    sparse categorical cross-entropy), batch 64, Adam, on `threads` threads."""
    torch.set_num_threads(threads)
    nn = torch.nn
    net = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10), nn.Softmax(dim=-1))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x, y = torch.rand(64, 784), torch.arange(64) % 10

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(net(x)), y)
        loss.backward()
        opt.step()

    return median_time(step, seconds=6.0, warmup=5)


def seq2seq_step(threads):
    """Seconds per teacher-forced step of the Transformer encoder-decoder of `seq2seq_step` in
    training_step.rs (tessera_train::seq2seq::TransformerSeq2seq) on `threads` threads: two
    embeddings scaled by sqrt(d_model) plus sinusoidal positions (cached), dropout,
    nn.Transformer (d_model 128, 4 heads, feed-forward 512, 2 + 2 layers, dropout 0.1, pre-LN,
    batch-first) with the source key padding masked in the encoder and in the cross-attention and
    a causal target, an untied nn.Linear generator, cross-entropy ignoring pad with label
    smoothing 0.1, Adam (lr 1e-3, the default foreach implementation, not fused). Batch 64,
    sources of 12..24 random ids right-padded to 24 (vocabulary 64), targets of 12 ids
    (vocabulary 16) with <bos>/<eos>: pad 0, bos 1, eos 2."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn, F = torch.nn, torch.nn.functional
    batch, src_len, tgt_len, src_vocab, tgt_vocab, d, pad = 64, 24, 12, 64, 16, 128, 0

    class Seq2seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb = nn.Embedding(src_vocab, d, padding_idx=pad)
            self.tgt_emb = nn.Embedding(tgt_vocab, d, padding_idx=pad)
            self.drop = nn.Dropout(0.1)
            with warnings.catch_warnings():  # "enable_nested_tensor is True, but ... norm_first was True"
                warnings.simplefilter("ignore")
                self.transformer = nn.Transformer(d, 4, 2, 2, 512, 0.1, batch_first=True, norm_first=True)
            self.generator = nn.Linear(d, tgt_vocab)
            pos = torch.arange(64, dtype=torch.float64)[:, None]
            i = torch.arange(d)
            angle = pos / torch.pow(10000.0, (i - i % 2).double() / d)
            pe = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()
            self.register_buffer("pe", pe)

        def embed(self, table, ids):
            return self.drop(table(ids) * math.sqrt(d) + self.pe[:ids.shape[1]])

        def forward(self, src, src_pad, tgt_in, causal):
            y = self.transformer(self.embed(self.src_emb, src), self.embed(self.tgt_emb, tgt_in),
                                 tgt_mask=causal, src_key_padding_mask=src_pad,
                                 memory_key_padding_mask=src_pad, tgt_is_causal=True)
            return self.generator(y)

    model = Seq2seq()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    causal = nn.Transformer.generate_square_subsequent_mask(tgt_len + 1)
    batches = []
    for b in range(8):
        lengths = torch.randint(12, src_len + 1, (batch,))
        lengths[0] = src_len
        src_pad = torch.arange(src_len)[None, :] >= lengths[:, None]
        src = torch.randint(3, src_vocab, (batch, src_len)).masked_fill(src_pad, pad)
        tgt = torch.randint(3, tgt_vocab, (batch, tgt_len))
        tgt_in = torch.cat([torch.ones(batch, 1, dtype=torch.long), tgt], 1)
        tgt_out = torch.cat([tgt, torch.full((batch, 1), 2)], 1).reshape(-1)
        batches.append((src, src_pad, tgt_in, tgt_out))
    state = [0]

    def step():
        src, src_pad, tgt_in, tgt_out = batches[state[0] % len(batches)]
        state[0] += 1
        opt.zero_grad()
        logits = model(src, src_pad, tgt_in, causal)
        loss = F.cross_entropy(logits.reshape(-1, tgt_vocab), tgt_out, ignore_index=pad, label_smoothing=0.1)
        loss.backward()
        opt.step()

    return median_time(step, seconds=6.0, warmup=5)


def criterion_median(target, group, bench):
    path = os.path.join(target, "criterion", group, bench, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e9
    except FileNotFoundError:
        sys.exit(f"no criterion result at {path}: run without --skip-cargo (or with the same CARGO_TARGET_DIR)")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-cargo", action="store_true", help="reuse the last criterion results")
    ap.add_argument("--seq2seq", action="store_true",
                    help="only the Transformer encoder-decoder step (criterion filter seq2seq_step), 1 and 2 threads")
    ap.add_argument("--json", help="also write every row (seconds per step, both sides) to this file")
    args = ap.parse_args()
    results = []
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(ROOT, "target-bench"))
    if not args.skip_cargo:
        filters = ["--", "seq2seq_step"] if args.seq2seq else []
        subprocess.run(["cargo", "bench", "-p", "tessera-benches", "--bench", "training_step"] + filters,
                       cwd=ROOT, env=env, check=True)
    if args.seq2seq:
        print(f"load average before PyTorch: {os.getloadavg()}")
        seq2seq = seq2seq_steps()
        print(f"load average after PyTorch: {os.getloadavg()}; torch {torch.__version__}")
        results += print_seq2seq(env["CARGO_TARGET_DIR"], seq2seq)
        write_json(args.json, results)
        return
    gpt = gpt_steps()
    cnn = {threads: cnn_step(threads) for threads in (1, 2)}
    seq2seq = seq2seq_steps()
    recurrent = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        recurrent[threads] = (recurrent_layer(torch.nn.LSTM), lm_step(), recurrent_layer(torch.nn.GRU))
    torch.set_num_threads(1)
    mlp = [("MLP step, batch 32", "b32", mlp_step(32, False), mlp_step(32, True)),
           ("MLP step, batch 256", "b256", mlp_step(256, False), mlp_step(256, True))]
    print(f"torch {torch.__version__}")
    print(f"{'workload':<40} {'tessera':>10} {'torch':>10} {'torch fused Adam':>17} {'ratio vs best torch':>20}")
    for name, bench, t_default, t_fused in mlp:
        ours = criterion_median(env["CARGO_TARGET_DIR"], "mlp_step", bench)
        best = min(t_default, t_fused)
        print(f"{name + ', 1 thr':<40} {ours * 1e3:>7.3f} ms {t_default * 1e3:>7.3f} ms {t_fused * 1e3:>14.3f} ms "
              f"{ours / best:>20.2f}")
        results.append(row(name, f"mlp_step/{bench}", 1, ours, best))
    # (row name, criterion group, PyTorch seconds per step by thread count)
    stepped = [
        ("LSTM layer fwd+bwd (32x35, 128->256)", "lstm_layer", {t: recurrent[t][0] for t in (1, 2)}),
        ("GRU layer fwd+bwd (32x35, 128->256)", "gru_layer", {t: recurrent[t][2] for t in (1, 2)}),
        ("LM step (v5000 e128 h256 s35 b32)", "lm_step", {t: recurrent[t][1] for t in (1, 2)}),
        ("GPT step (train gpt defaults)", "gpt_step", {t: gpt[f"t{t}"] for t in (1, 2)}),
        ("CNN step (train cnn, batch 64)", "cnn_step", cnn),
    ]
    for name, group, torch_s in stepped:
        for threads in (1, 2):
            ours, theirs = criterion_median(env["CARGO_TARGET_DIR"], group, f"t{threads}"), torch_s[threads]
            label = f"{name.split(' (')[0]}, {threads} thr"
            print(f"{label:<40} {ours * 1e3:>7.3f} ms {theirs * 1e3:>7.3f} ms {'-':>17} {ours / theirs:>20.2f}")
            results.append(row(name, group, threads, ours, theirs))
            if group == "lm_step":
                tokens = 32 * 35
                print(f"{'  tokens/s':<40} {tokens / ours:>10.0f} {tokens / theirs:>10.0f} {'':>17} "
                      f"{'speed-up ' + format(theirs / ours, '.2f'):>20}")
    results += print_seq2seq(env["CARGO_TARGET_DIR"], seq2seq, header=False)
    write_json(args.json, results)


def row(workload, bench, threads, tessera_s, torch_s):
    """One comparison for `--json`: seconds per step of each side (PyTorch: its faster optimizer);
    `bench` is the workload's name in `examples/step.rs` (`tessera_benches::workloads`)."""
    return {"workload": workload, "bench": bench, "threads": threads, "tessera_s": tessera_s,
            "reference": f"torch {torch.__version__}", "reference_s": torch_s, "ratio": tessera_s / torch_s}


def write_json(path, rows):
    if path:
        with open(path, "w") as f:
            json.dump(rows, f, indent=1)


def print_seq2seq(target, seq2seq, header=True):
    """Prints the rows of the Transformer encoder-decoder step (criterion's median against
    PyTorch's) and returns them for `--json`."""
    rows = []
    if header:
        print(f"{'workload':<40} {'tessera':>10} {'torch':>10} {'torch fused Adam':>17} {'tessera / torch':>20}")
    for threads in (1, 2):
        ours = criterion_median(target, "seq2seq_step", f"t{threads}")
        name = f"Transformer seq2seq step, {threads} thr"
        theirs = seq2seq[threads]
        print(f"{name:<40} {ours * 1e3:>7.3f} ms {theirs * 1e3:>7.3f} ms {'-':>17} {ours / theirs:>20.2f}")
        rows.append(row("Transformer seq2seq step", "seq2seq_step", threads, ours, theirs))
    return rows


def seq2seq_steps():
    """Seconds per Transformer encoder-decoder step in PyTorch, by threads (1 and 2)."""
    times = {threads: seq2seq_step(threads) for threads in (1, 2)}
    torch.set_num_threads(1)
    return times


def gpt_steps():
    """Seconds per iteration of the default `tessera train gpt` recipe in PyTorch, by threads."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gpt_torch
    return {k: v["median_s"] for k, v in gpt_torch.time_steps(gpt_torch.parser().parse_args(["step"])).items()}


if __name__ == "__main__":
    main()
