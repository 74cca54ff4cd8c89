"""Fits the polynomial P of `erf_f32` in `src/cpu/math.rs`.

erf(x) = x + x P(x^2) for |x| < 1: P approximates erf(x)/x - 1 (its constant term 2/sqrt(pi) - 1,
whose f32 rounding costs far less than that of 2/sqrt(pi)), fitted for minimax error relative to
erf(x)/x by Lawson's iteration, then its coefficients rounded to f32 one at a time, lowest
degree first, each time refitting the ones not yet rounded. Needs numpy; runs in seconds:

    python3 crates/tessera-kernels/tools/fit_erf.py
"""

import math

import numpy as np

from fit_normal_cdf import lawson  # the same minimax iteration

XMAX = 1.0  # from 1 on, erf_f32 takes 1 - erfc
DEGREE = 6  # in x^2
NODES = 6000


def main():
    k = np.arange(NODES)
    x = XMAX / 2.0 + XMAX / 2.0 * np.cos(np.pi * (k + 0.5) / NODES)
    ratio = np.array([math.erf(v) / v for v in x])
    powers = np.vander(x * x, DEGREE + 1, increasing=True)
    rounded = []
    for j in range(DEGREE + 1):
        rest = ratio - 1.0 - (powers[:, :j] @ np.array(rounded) if j else 0.0)
        c = lawson(powers[:, j:], rest, ratio)
        rounded.append(float(np.float32(c[0])))
    err = np.max(np.abs(1.0 + powers @ np.array(rounded) - ratio) / ratio)
    print(f"max relative error with f32 coefficients: {err:.2e}")
    for c in rounded:
        print(np.float32(c))


if __name__ == "__main__":
    main()
