#!/usr/bin/env python3
"""Side-by-side timings of tessera-text and the Python references, in one run, one thread.

* GPT-2 encoding of shakespeare.txt: Hugging Face `tokenizers` (a ByteLevel BPE built from
  GPT-2's encoder.json + vocab.bpe) vs `tessera-text`, with an identical-ids check.
* BPE training, 8k vocabulary on the same text: HF `BpeTrainer` vs `tessera-text`.
* Chinese segmentation: Python `jieba` and `jieba-rs` vs `tessera-text` (same dictionary).
* The 8k tokenizer.json trained by tessera-text must load in HF `tokenizers` and give the same ids,
  and HF's own GPT-2 tokenizer.json must load in tessera-text and give the same ids.

Usage (from the repository root):

    python3 -m venv /tmp/textref && /tmp/textref/bin/pip install tokenizers jieba==0.42.1
    TESSERA_DATA=/path/to/shared/data /tmp/textref/bin/python benches/text/compare_reference.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CRATE = os.path.join(ROOT, "crates", "tessera-text")
GPT2 = os.path.join(CRATE, "data", "gpt2")


def best_of(reps, f):
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def hf_gpt2():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE.from_file(os.path.join(GPT2, "encoder.json"), os.path.join(GPT2, "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def main():
    data = os.environ.get("TESSERA_DATA")
    if not data or not os.path.exists(os.path.join(data, "text", "shakespeare.txt")):
        print("skipping: set TESSERA_DATA to the shared data folder (needs text/shakespeare.txt)")
        return 0
    english = os.path.join(data, "text", "shakespeare.txt")
    chinese_sample = os.path.join(CRATE, "benches", "data", "zh_sample.txt")
    tmp = tempfile.mkdtemp(prefix="tessera-text-bench-")
    chinese = os.path.join(tmp, "zh.txt")
    with open(chinese_sample, encoding="utf-8") as f, open(chinese, "w", encoding="utf-8") as g:
        g.write(f.read() * 100)
    ids_out = os.path.join(tmp, "ids.txt")

    env = dict(os.environ, CARGO_TARGET_DIR=os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target-text")))
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "tessera-text", "--example", "text_timings", "--",
           english, chinese, ids_out]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout)

    text = open(english, encoding="utf-8").read()
    hf_cold, hf_ids = best_of(3, lambda: hf_gpt2().encode(text).ids)
    tok = hf_gpt2()
    tok.encode(text)
    hf_warm, _ = best_of(3, lambda: tok.encode(text).ids)
    lines = text.splitlines()
    hf_lines, _ = best_of(3, lambda: sum(len(e.ids) for e in hf_gpt2().encode_batch(lines)))
    our_ids = [int(x) for x in open(ids_out).read().split()]
    same_ids = our_ids == hf_ids

    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

    def hf_train():
        t = Tokenizer(models.BPE())
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        t.decoder = decoders.ByteLevel()
        tr = trainers.BpeTrainer(vocab_size=8000, min_frequency=2, special_tokens=["<|endoftext|>"],
                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        t.train([english], tr)
        return t

    hf_train_s, _ = best_of(1, hf_train)

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    zh_lines = open(chinese, encoding="utf-8").read().splitlines()
    py_jieba_s, _ = best_of(3, lambda: sum(len(list(jieba.cut(l))) for l in zh_lines))

    # A tokenizer.json written by tessera-text loads in HF tokenizers with the same ids.
    hf_loaded = Tokenizer.from_file(ids_out + ".tokenizer.json")
    ours_trained = open(ids_out + ".trained_ids", encoding="utf-8").read().split("\n")
    hf_trained = [" ".join(map(str, hf_loaded.encode(l).ids)) for l in lines[:5000]]
    saved_ok = ours_trained == hf_trained

    # HF's own GPT-2 tokenizer.json (with <|endoftext|> as an added token) loads here with the
    # same ids on the first lines of the text plus an end-of-text marker.
    from tokenizers import AddedToken, processors

    hf_full = hf_gpt2()
    hf_full.post_processor = processors.ByteLevel(trim_offsets=False)
    hf_full.add_special_tokens([AddedToken("<|endoftext|>", special=True)])
    hf_json = os.path.join(tmp, "hf_gpt2_tokenizer.json")
    hf_full.save(hf_json)
    probe = [l + "<|endoftext|>" for l in lines[:2000]]
    cases = os.path.join(tmp, "hf_gpt2_cases.json")
    with open(cases, "w", encoding="utf-8") as f:
        json.dump([{"text": t, "ids": hf_full.encode(t).ids} for t in probe], f)
    check = subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "tessera-text", "--example",
                            "check_tokenizer_json", "--", hf_json, cases], env=env, cwd=ROOT,
                           capture_output=True, text=True)
    hf_json_ok = check.returncode == 0

    mb = len(text.encode()) / 1e6
    print(f"text: {english} ({mb:.2f} MB), one thread")
    print(f"GPT-2 encode, whole text, cold cache: tessera {ours['gpt2_cold_s']:.3f} s, HF tokenizers {hf_cold:.3f} s"
          f" -> tessera is {hf_cold / ours['gpt2_cold_s']:.2f}x HF")
    print(f"GPT-2 encode, whole text, warm cache: tessera {ours['gpt2_warm_s']:.3f} s, HF tokenizers {hf_warm:.3f} s"
          f" -> {hf_warm / ours['gpt2_warm_s']:.2f}x")
    print(f"GPT-2 encode, line by line:           tessera {ours['gpt2_lines_cold_s']:.3f} s, HF encode_batch {hf_lines:.3f} s"
          f" -> {hf_lines / ours['gpt2_lines_cold_s']:.2f}x")
    print(f"identical ids: {same_ids} ({len(our_ids)} tessera, {len(hf_ids)} HF)")
    print(f"BPE train 8k: tessera {ours['bpe_train_8k_s']:.2f} s, HF {hf_train_s:.2f} s"
          f" -> {hf_train_s / ours['bpe_train_8k_s']:.2f}x")
    print(f"segment {ours['zh_bytes'] / 1e6:.2f} MB Chinese: tessera {ours['segment_s']:.4f} s, jieba-rs "
          f"{ours['jieba_rs_segment_s']:.4f} s ({ours['jieba_rs_segment_s'] / ours['segment_s']:.2f}x), "
          f"Python jieba {py_jieba_s:.3f} s ({py_jieba_s / ours['segment_s']:.1f}x); same words as jieba-rs: "
          f"{ours['same_as_jieba_rs']}")
    print(f"tokenizer.json saved by tessera loads in HF with identical ids: {saved_ok}")
    print(f"HF-written GPT-2 tokenizer.json loads in tessera with identical ids: {hf_json_ok}"
          f" ({check.stdout.strip().splitlines()[-1] if check.stdout.strip() else check.stderr.strip()[-200:]})")
    return 0 if same_ids and saved_ok and hf_json_ok and ours["same_as_jieba_rs"] else 1


if __name__ == "__main__":
    sys.exit(main())
