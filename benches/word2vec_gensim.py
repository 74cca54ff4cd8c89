"""word2vec in Tessera and gensim on the same corpus with the same settings, in one run (issue 19).

Trains skip-gram (dim 100, window 5, negative 5, min-count 5, sample 1e-3, 5 epochs, alpha 0.025)
on the full Shakespeare text with `tessera train word2vec` (release build) and gensim's Word2Vec,
on 1 and 2 threads, 3 seeds each, and prints per run and on average:

- training throughput: corpus words (all tokens, rare ones included) x epochs / training seconds,
  the same formula for both (vocabulary building and file writing are not timed);
- WordSim-353 Spearman and analogy accuracy (questions-words.txt, top 30,000 words), both tools'
  vectors scored by Tessera's evaluator (`tessera embeddings similarity|evaluate`) after saving
  gensim's in word2vec format; gensim's own `evaluate_word_pairs` / `evaluate_word_analogies`
  on its vectors as a cross-check of the evaluator.

gensim runs in both of its input modes: an iterable of sentences (`LineSentence`, the common use)
and `corpus_file` (its fastest mode: one C++ reader per worker). Then it measures reading a 1 GB
word2vec text file (generated in the temporary folder and deleted after): time and peak RSS, for
Tessera (text, and binary after converting) and for gensim's `load_word2vec_format`.

Both tools read one pre-tokenized file: each line of shakespeare.txt lowercased, its words as runs
of letters and digits (punctuation dropped), separated by spaces. Tessera's own `--lang en`
tokenizer splits such a line into exactly these words.

    python3 -m venv /tmp/w2venv && /tmp/w2venv/bin/pip install gensim numpy scipy
    /tmp/w2venv/bin/python benches/word2vec_gensim.py [--data ../shared/data] [--json out.json]
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5, alpha=0.025)

# Run inside a child process per gensim run (fresh memory, its own thread settings).
GENSIM_CHILD = r"""
import json, sys, time
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
corpus, mode, threads, seed, out, ws, qw, s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7], json.loads(sys.argv[8])
m = Word2Vec(vector_size=s["dim"], window=s["window"], negative=s["negative"], hs=0, min_count=s["min_count"],
             sample=s["sample"], sg=1, workers=threads, seed=seed, alpha=s["alpha"], min_alpha=s["alpha"] * 1e-4)
if mode == "corpus_file":
    m.build_vocab(corpus_file=corpus)
    t = time.perf_counter()
    eff, raw = m.train(corpus_file=corpus, total_examples=m.corpus_count, total_words=m.corpus_total_words, epochs=s["epochs"])
else:
    m.build_vocab(LineSentence(corpus))
    t = time.perf_counter()
    eff, raw = m.train(LineSentence(corpus), total_examples=m.corpus_count, epochs=s["epochs"])
secs = time.perf_counter() - t
m.wv.save_word2vec_format(out)
pearson, spearman, oov = m.wv.evaluate_word_pairs(ws)
acc, _ = m.wv.evaluate_word_analogies(qw, restrict_vocab=30000)
print(json.dumps({"seconds": secs, "vocab": len(m.wv), "raw_words": raw, "effective_words": eff,
                  "own_spearman": spearman[0], "own_analogy": acc}))
"""

GENSIM_READ = r"""
import resource, sys, time
from gensim.models import KeyedVectors
t = time.perf_counter()
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=sys.argv[2] == "binary")
print(time.perf_counter() - t, len(kv), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except Exception:
        return "unknown"


def tokenize(src, dst):
    words = 0
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            toks = re.findall(r"[^\W_]+", line.lower())
            if toks:
                out.write(" ".join(toks) + "\n")
                words += len(toks)
    return words


def tessera_eval(binary, vectors, ws, qw):
    sim = subprocess.run([binary, "embeddings", "similarity", vectors, "--pairs", ws], capture_output=True, text=True, check=True).stdout
    acc = subprocess.run([binary, "embeddings", "evaluate", vectors, "--analogies", qw, "--top-n", "30000"], capture_output=True, text=True, check=True).stdout
    spearman = float(re.search(r"Spearman (-?[\d.]+|NaN)", sim).group(1))
    total = re.search(r"^total\s+(\d+)\s+(\d+)\s+([\d.]+)%\s+(\d+)", acc, re.M)
    scored = int(re.search(r"(\d+) scored", sim).group(1))
    return spearman, float(total.group(3)) / 100, int(total.group(2)), scored


def run_tessera(binary, corpus, threads, seed, out):
    s = SETTINGS
    cmd = [binary, "train", "word2vec", "--corpus", corpus, "--dim", str(s["dim"]), "--window", str(s["window"]),
           "--negative", str(s["negative"]), "--min-count", str(s["min_count"]), "--sample", str(s["sample"]),
           "--epochs", str(s["epochs"]), "--alpha", str(s["alpha"]), "--threads", str(threads), "--seed", str(seed),
           "--out", out]
    printed = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    secs = float(re.search(r"words in ([\d.]+) s", printed).group(1))
    vocab = int(re.search(r"vocabulary (\d+)", printed).group(1))
    return {"seconds": secs, "vocab": vocab}, " ".join(cmd)


def run_gensim(corpus, mode, threads, seed, out, ws, qw):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    args = [sys.executable, "-c", GENSIM_CHILD, corpus, mode, str(threads), str(seed), out, ws, qw, json.dumps(SETTINGS)]
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout.strip().splitlines()[-1])


def timed_rss(cmd):
    """Runs cmd under /usr/bin/time -v when present; returns (stdout, seconds, peak RSS in MB)."""
    if shutil.which("time") or os.path.exists("/usr/bin/time"):
        p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, check=True)
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
        secs = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        return p.stdout, secs, rss
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return p.stdout, time.perf_counter() - t, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def make_big_file(path, target_bytes, dim=100):
    import numpy as np
    rng = np.random.default_rng(0)
    pool = [" ".join(f"{x:.6f}" for x in row) for row in rng.standard_normal((4096, dim)) * 0.3]
    rows = target_bytes // (len(pool[0]) + 9) + 1
    with open(path, "w") as f:
        f.write(f"{rows} {dim}\n")
        chunk = []
        for i in range(rows):
            chunk.append(f"w{i} {pool[i % len(pool)]}\n")
            if len(chunk) == 20000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return rows


def read_benchmark(binary, examples, tmp, gb, skip_gensim):
    free = shutil.disk_usage(tmp).free
    if free < gb * 1e9 * 2.6:
        print(f"skipping the {gb} GB reading measurement: {free / 1e9:.1f} GB free in {tmp}")
        return {}
    big, bin_ = os.path.join(tmp, "big.txt"), os.path.join(tmp, "big.bin")
    t = time.perf_counter()
    rows = make_big_file(big, int(gb * 1e9))
    size = os.path.getsize(big)
    print(f"\nreading a {size / 1e9:.2f} GB word2vec text file ({rows} words x 100; generated in {time.perf_counter() - t:.0f} s)")
    results = {"bytes": size, "rows": rows}
    reader = os.path.join(examples, "read_vectors")
    out, secs, rss = timed_rss([reader, big, "text"])
    print(f"  tessera text:   {secs:6.1f} s, peak RSS {rss:7.0f} MB   ({out.strip()})")
    results["tessera_text"] = {"seconds": secs, "peak_rss_mb": rss}
    _, secs, rss = timed_rss([binary, "embeddings", "convert", big, "--out", bin_])
    print(f"  tessera convert text -> binary: {secs:.1f} s, peak RSS {rss:.0f} MB")
    results["tessera_convert"] = {"seconds": secs, "peak_rss_mb": rss}
    out, secs, rss = timed_rss([reader, bin_, "binary"])
    print(f"  tessera binary ({os.path.getsize(bin_) / 1e9:.2f} GB): {secs:6.1f} s, peak RSS {rss:7.0f} MB")
    results["tessera_binary"] = {"seconds": secs, "peak_rss_mb": rss}
    if not skip_gensim:
        for kind, path in (("text", big), ("binary", bin_)):
            out, wall, rss = timed_rss([sys.executable, "-c", GENSIM_READ, path, kind])
            secs = float(out.split()[0])
            print(f"  gensim {kind}: {secs:6.1f} s (process {wall:.1f} s), peak RSS {rss:7.0f} MB")
            results[f"gensim_{kind}"] = {"seconds": secs, "peak_rss_mb": rss}
    for p in (big, bin_):
        os.remove(p)
    return results


def mean_sd(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("TESSERA_DATA", os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--gensim-modes", nargs="+", default=["iterable", "corpus_file"], choices=["iterable", "corpus_file"])
    ap.add_argument("--skip-build", action="store_true", help="use the existing release build")
    ap.add_argument("--read-gb", type=float, default=1.0, help="size of the generated vector file (0: skip)")
    ap.add_argument("--skip-gensim-read", action="store_true")
    ap.add_argument("--json", help="write every figure to this file")
    a = ap.parse_args()

    text = os.path.join(a.data, "text", "shakespeare.txt")
    ws, qw = os.path.join(a.data, "eval", "wordsim353.tsv"), os.path.join(a.data, "eval", "questions-words.txt")
    for p in (text, ws, qw):
        if not os.path.exists(p):
            sys.exit(f"missing {p}: pass --data /path/to/shared/data")
    if not a.skip_build:
        subprocess.run(["cargo", "build", "--release", "-p", "tessera", "-p", "tessera-embed", "--example", "read_vectors"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary, examples = os.path.join(target, "release", "tessera"), os.path.join(target, "release", "examples")

    import gensim
    from gensim.models.word2vec_inner import FAST_VERSION
    cpu = cpu_model()
    tmp = tempfile.mkdtemp(prefix="w2v-bench-")
    corpus = os.path.join(tmp, "corpus.txt")
    words = tokenize(text, corpus)
    print(f"CPU: {cpu} ({os.cpu_count()} logical CPUs); load average at start {os.getloadavg()[0]:.2f}")
    print(f"gensim {gensim.__version__} (FAST_VERSION {FAST_VERSION}); corpus {text}: {words} words after tokenizing")
    print("settings: skip-gram, " + ", ".join(f"{k} {v}" for k, v in SETTINGS.items()))

    runs = []
    header = f"{'tool':<20} {'thr':>3} {'seed':>4} {'train s':>8} {'words/s':>10} {'vocab':>6} {'WS353 rho':>9} {'analogy':>8} {'asked':>6}  gensim's own eval"
    print("\n" + header)
    for threads in a.threads:
        for seed in a.seeds:
            # Interleaved, so that a change in the machine's load hits every tool alike.
            out = os.path.join(tmp, f"tessera-t{threads}-s{seed}.txt")
            r, cmd = run_tessera(binary, corpus, threads, seed, out)
            r.update(tool="tessera", threads=threads, seed=seed, command=cmd)
            todo = [r] + [dict(tool=f"gensim-{m}", threads=threads, seed=seed, mode=m) for m in a.gensim_modes]
            for r in todo:
                if r["tool"] != "tessera":
                    out = os.path.join(tmp, f"{r['tool']}-t{threads}-s{seed}.txt")
                    r.update(run_gensim(corpus, r["mode"], threads, seed, out, ws, qw))
                else:
                    out = os.path.join(tmp, f"tessera-t{threads}-s{seed}.txt")
                r["words_per_sec"] = words * SETTINGS["epochs"] / r["seconds"]
                r["spearman"], r["analogy"], r["asked"], r["pairs"] = tessera_eval(binary, out, ws, qw)
                own = f"rho {r['own_spearman']:.4f}, analogy {100 * r['own_analogy']:.2f}%" if "own_spearman" in r else ""
                print(f"{r['tool']:<20} {threads:>3} {seed:>4} {r['seconds']:>8.2f} {r['words_per_sec']:>10.0f} {r['vocab']:>6} "
                      f"{r['spearman']:>9.4f} {100 * r['analogy']:>7.2f}% {r['asked']:>6}  {own}")
                runs.append(r)
    print(f"load average at the end of training: {os.getloadavg()[0]:.2f}")

    print(f"\nmeans over seeds {a.seeds} (± standard deviation); CPU: {cpu}")
    print(f"{'tool':<20} {'thr':>3} {'words/s':>18} {'WS353 rho':>16} {'analogy':>16}")
    summary = {}
    for threads in a.threads:
        for tool in ["tessera"] + [f"gensim-{m}" for m in a.gensim_modes]:
            rs = [r for r in runs if r["tool"] == tool and r["threads"] == threads]
            (w, wsd), (s, ssd), (acc, asd) = (mean_sd([r[k] for r in rs]) for k in ("words_per_sec", "spearman", "analogy"))
            summary[(tool, threads)] = (w, s, acc)
            print(f"{tool:<20} {threads:>3} {w:>10.0f} ±{wsd:>6.0f} {s:>8.4f} ±{ssd:.4f} {100 * acc:>7.2f}% ±{100 * asd:.2f}")
    print("\ntessera vs gensim (targets: throughput >= 1x, goal 1.5x; Spearman within 0.02; analogy within 2 points)")
    for threads in a.threads:
        t = summary[("tessera", threads)]
        for mode in a.gensim_modes:
            g = summary[(f"gensim-{mode}", threads)]
            print(f"  {threads} thread(s) vs gensim {mode:<11}: throughput x{t[0] / g[0]:.2f}, "
                  f"Spearman {t[1] - g[1]:+.4f}, analogy {100 * (t[2] - g[2]):+.2f} points")

    reading = read_benchmark(binary, examples, tmp, a.read_gb, a.skip_gensim_read) if a.read_gb > 0 else {}
    shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu, "gensim": gensim.__version__, "settings": SETTINGS, "corpus_words": words,
                       "runs": runs, "reading": reading}, f, indent=1)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
