"""Fits the polynomial Q of `normal_cdf_pdf_f32` in `src/cpu/math.rs`.

Phi(-z) = t Q(t) exp(-z^2 / 2) with t = 1 / (1 + K z), z in [0, ZMAX]. Q is fitted for minimax
relative error by Lawson's iteration (weighted least squares whose weights grow where the error
is largest), then its coefficients are rounded to f32 one at a time, lowest degree first, each
time refitting the ones not yet rounded. Needs numpy; runs in seconds:

    python3 crates/tessera-kernels/tools/fit_normal_cdf.py
"""

import math

import numpy as np

K = 0.3125  # 5/16, exact in f32
ZMAX = 14.5  # Phi(-14.5) rounds to 0 in f32
DEGREE = 9
NODES = 6000
ROUNDS = 400


def scaled_tail(t):
    """Phi(-z) exp(z^2 / 2) / t, the function Q approximates, at t = 1 / (1 + K z)."""
    z = (1.0 / t - 1.0) / K
    return np.array([0.5 * math.erfc(v / math.sqrt(2.0)) * math.exp(v * v / 2.0) for v in z]) / t


def lawson(basis, target, weight_of_error):
    """Coefficients minimising max |basis @ c - target| / weight_of_error."""
    w = np.full(len(target), 1.0 / len(target))
    for _ in range(ROUNDS):
        scale = np.sqrt(w) / weight_of_error
        c, *_ = np.linalg.lstsq(basis * scale[:, None], target * scale, rcond=None)
        err = np.abs(basis @ c - target) / weight_of_error
        w = w * err + 1e-30
        w /= w.sum()
    return c


def main():
    t_low = 1.0 / (1.0 + K * ZMAX)
    k = np.arange(NODES)
    t = (t_low + 1.0) / 2.0 + (1.0 - t_low) / 2.0 * np.cos(np.pi * (k + 0.5) / NODES)
    f = scaled_tail(t)
    powers = np.vander(t, DEGREE + 1, increasing=True)
    rounded = []
    for j in range(DEGREE + 1):
        rest = f - powers[:, :j] @ np.array(rounded) if j else f
        c = lawson(powers[:, j:], rest, f)
        rounded.append(float(np.float32(c[0])))
    err = np.max(np.abs(powers @ np.array(rounded) - f) / f)
    print(f"max relative error with f32 coefficients: {err:.2e}")
    for c in rounded:
        print(np.float32(c))


if __name__ == "__main__":
    main()
