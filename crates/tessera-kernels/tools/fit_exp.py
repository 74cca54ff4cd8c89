"""Fits the polynomial of `exp_f32` in `src/cpu/math.rs`.

e^r = 1 + r + r^2 P(r) on |r| <= ln2 / 2, P of degree 4 (so degree 6 in all, one fused
multiply-add fewer than the degree-7 Taylor polynomial it replaced). The first two coefficients
stay exactly 1; P is fitted for minimax relative error by Lawson's iteration and its coefficients
rounded to f32 one at a time, as in `fit_normal_cdf.py`. Needs numpy; runs in seconds:

    python3 crates/tessera-kernels/tools/fit_exp.py
"""

import numpy as np

from fit_normal_cdf import lawson

DEGREE = 4
NODES = 4000
HALF_LN2 = float(np.log(2.0)) / 2.0


def main():
    k = np.arange(NODES)
    r = HALF_LN2 * np.cos(np.pi * (k + 0.5) / NODES)
    f = np.exp(r)
    target = f - 1.0 - r  # r^2 P(r)
    powers = np.vander(r, DEGREE + 1, increasing=True) * (r * r)[:, None]
    rounded = []
    for j in range(DEGREE + 1):
        rest = target - powers[:, :j] @ np.array(rounded) if j else target
        c = lawson(powers[:, j:], rest, f)
        rounded.append(float(np.float32(c[0])))
    err = np.max(np.abs(1.0 + r + powers @ np.array(rounded) - f) / f)
    print(f"max relative error with f32 coefficients: {err:.2e} (f32's half ulp: {2.0**-24:.2e})")
    for c in rounded:
        print(np.float32(c))


if __name__ == "__main__":
    main()
