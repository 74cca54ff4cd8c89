#!/usr/bin/env python3
"""Writes a deterministic string-mapping task for `tessera train seq2seq --pairs`: English number
words to digits ("three hundred forty-two thousand and seven" -> "342007"), numbers below one
million, seeded; the test pairs share no number with the training pairs.

    python3 benches/seq2seq/number_words.py OUT_DIR [--train 20000] [--test 1000] [--seed 0]

writes OUT_DIR/train.tsv and OUT_DIR/test.tsv (source<TAB>target per line)."""

import argparse
import os
import random

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def below_thousand(n, and_word):
    words = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
        if n and and_word:
            words.append("and")
    if n >= 20:
        words.append(TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else ""))
    elif n or not words:
        words.append(ONES[n])
    return words


def spell(n, and_word):
    if n < 1000:
        return " ".join(below_thousand(n, and_word))
    thousands, rest = divmod(n, 1000)
    words = below_thousand(thousands, and_word) + ["thousand"]
    if rest:
        if rest < 100 and and_word:
            words.append("and")
        words += below_thousand(rest, and_word)
    return " ".join(words)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    numbers = rng.sample(range(1_000_000), a.train + a.test)
    os.makedirs(a.out, exist_ok=True)
    for name, part in (("test", numbers[: a.test]), ("train", numbers[a.test :])):
        with open(os.path.join(a.out, f"{name}.tsv"), "w") as f:
            for n in part:
                # British "and" or not, at random: two spellings of one mapping.
                f.write(f"{spell(n, rng.random() < 0.5)}\t{n}\n")


if __name__ == "__main__":
    main()
