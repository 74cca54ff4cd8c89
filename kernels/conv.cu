// im2col and col2im over NCHW images (cpu/conv.rs is the reference), the building blocks of
// conv2d, its gradients and conv_transpose2d (whose products run on cuBLAS; cuda/conv_gemm.rs),
// and the per-channel bias of conv2d's output. One thread per output element:
// im2col reads x [N, C, H, W] through its four strides (any view) and writes the contiguous
// columns [N, C*KH*KW, OH*OW] (0 in the padding); col2im gathers, for each pixel of the
// contiguous [N, C, H, W] output, the column entries of every kernel tap that read it (from a
// [N, C*KH*KW, OH*OW] view), summing in the accumulation type in tap order, so there are no
// atomics and the result is deterministic.
// Kernels, per dtype, with the window's sizes WINDOW = (c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
//   im2col_<dtype>(total, WINDOW, xs, x, col)
//   col2im_<dtype>(total, WINDOW, cs, col, x)
//   conv_bias_<dtype>(total, channels, plane, b, y): y[n, c, p] += b[c] in place (y contiguous)
#include "common.cuh"

#define TS_WINDOW_PARAMS                                                                                             \
    u64 c, u64 h, u64 w, u64 kh, u64 kw, u64 sh, u64 sw, u64 ph, u64 pw, u64 dh, u64 dw, u64 oh, u64 ow
#define TS_WINDOW_ARGS c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow

template <typename T>
__device__ void im2col_body(u64 total, TS_WINDOW_PARAMS, const Strided& xs, const T* x, T* col) {
    typedef typename Elem<T>::acc A;
    u64 positions = oh * ow, taps = kh * kw;
    TS_FOR_EACH(i, total) {
        u64 pos = i % positions, rest = i / positions;
        u64 row = rest % (c * taps), n = rest / (c * taps);
        u64 ch = row / taps, tap = row % taps, ki = tap / kw, kj = tap % kw;
        u64 oy = pos / ow, ox = pos % ow;
        i64 iy = (i64)(oy * sh + ki * dh) - (i64)ph, ix = (i64)(ox * sw + kj * dw) - (i64)pw;
        T v = Elem<T>::store((A)0);
        if (iy >= 0 && iy < (i64)h && ix >= 0 && ix < (i64)w) {
            v = x[xs.offset + n * xs.strides[0] + ch * xs.strides[1] + (u64)iy * xs.strides[2] +
                  (u64)ix * xs.strides[3]];
        }
        col[i] = v;
    }
}

template <typename T>
__device__ void col2im_body(u64 total, TS_WINDOW_PARAMS, const Strided& cs, const T* col, T* x) {
    typedef typename Elem<T>::acc A;
    TS_FOR_EACH(i, total) {
        u64 ix = i % w, rest = i / w;
        u64 iy = rest % h;
        rest /= h;
        u64 ch = rest % c, n = rest / c;
        const T* base = col + cs.offset + n * cs.strides[0];
        A s = 0;
        for (u64 ki = 0; ki < kh; ++ki) {
            i64 ty = (i64)(iy + ph) - (i64)(ki * dh);
            if (ty < 0) break;
            if ((u64)ty % sh != 0 || (u64)ty / sh >= oh) continue;
            u64 oy = (u64)ty / sh;
            for (u64 kj = 0; kj < kw; ++kj) {
                i64 tx = (i64)(ix + pw) - (i64)(kj * dw);
                if (tx < 0) break;
                if ((u64)tx % sw != 0 || (u64)tx / sw >= ow) continue;
                u64 row = (ch * kh + ki) * kw + kj, pos = oy * ow + (u64)tx / sw;
                s += Elem<T>::load(base[row * cs.strides[1] + pos * cs.strides[2]]);
            }
        }
        x[i] = Elem<T>::store(s);
    }
}

#define TS_CONV(T, sfx)                                                                                               \
    extern "C" __global__ void im2col_##sfx(u64 total, TS_WINDOW_PARAMS, Strided xs, const T* __restrict__ x,      \
                                            T* __restrict__ col) {                                                    \
        im2col_body<T>(total, TS_WINDOW_ARGS, xs, x, col);                                                            \
    }                                                                                                                 \
    extern "C" __global__ void col2im_##sfx(u64 total, TS_WINDOW_PARAMS, Strided cs, const T* __restrict__ col,    \
                                            T* __restrict__ x) {                                                      \
        col2im_body<T>(total, TS_WINDOW_ARGS, cs, col, x);                                                            \
    }                                                                                                                 \
    extern "C" __global__ void conv_bias_##sfx(u64 total, u64 channels, u64 plane, const T* __restrict__ b,          \
                                               T* __restrict__ y) {                                                   \
        TS_FOR_EACH(i, total) {                                                                                       \
            y[i] = Elem<T>::store(Elem<T>::load(y[i]) + Elem<T>::load(b[(i / plane) % channels]));                  \
        }                                                                                                             \
    }
TS_CONV(float, f32)
TS_CONV(double, f64)
TS_CONV(f16, f16)
TS_CONV(bf16, bf16)
