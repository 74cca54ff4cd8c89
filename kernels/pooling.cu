// 2-d max and average pooling, plain and adaptive, and their backward (cpu/pooling.rs is the
// reference). x, dy and the outputs are contiguous [planes, H, W] / [planes, OH, OW] (the host
// copies views). Each spatial axis comes as (in, out, k, s, p, d): input and output lengths,
// kernel, stride, padding, dilation; k == 0 marks an adaptive axis (PyTorch's windows
// floor(o·in/out)..ceil((o+1)·in/out)). One thread per output element forward; the average's
// backward gathers (one thread per input element, no atomics), the max's backward adds each
// gradient at its index atomically into an accumulator (f32 for the half types, which the host
// casts back), zeroed by the host.
// Kernels, per dtype:
//   max_pool2d_<dtype>(planes, H axis, W axis, x, y, idx)
//   max_pool2d_backward_<dtype>(n, plane_in, plane_out, dy, idx, acc)
//   avg_pool2d_<dtype>(planes, H axis, W axis, include_pad, divisor, x, y)
//   avg_pool2d_backward_<dtype>(planes, H axis, W axis, include_pad, divisor, dy, dx)
#include "common.cuh"

struct Axis {
    u64 in, out, k, s, p, d;
};
struct Win {
    u64 first, count, step, padded;
};

__device__ __forceinline__ Axis make_axis(u64 in, u64 out, u64 k, u64 s, u64 p, u64 d) {
    Axis a;
    a.in = in;
    a.out = out;
    a.k = k;
    a.s = s;
    a.p = p;
    a.d = d;
    return a;
}

// The input positions output `o` reads: first + i·step for i < count (PoolAxis::window).
__device__ __forceinline__ Win window(const Axis& a, u64 o) {
    Win w;
    if (a.k == 0) {
        // (o + 1) * in can pass 64 bits where in is a broadcast length (the CPU half takes 128 bits,
        // which NVRTC lacks by default): with in = q * out + r, only the r part is divided, and
        // (o + 1) * r < out^2 fits, an output of more than 2^32 per plane being past any memory.
        u64 q = a.in / a.out, r = a.in % a.out;
        u64 s = o * q + o * r / a.out, e = (o + 1) * q + ((o + 1) * r + a.out - 1) / a.out;
        w.first = s;
        w.count = e - s;
        w.step = 1;
        w.padded = e - s;
        return w;
    }
    i64 start = (i64)(o * a.s) - (i64)a.p;
    u64 skip = start < 0 ? ((u64)(-start) + a.d - 1) / a.d : 0;
    i64 first = start + (i64)(skip * a.d);
    u64 count = 0;
    if (first < (i64)a.in && skip < a.k) {
        u64 left = ((u64)((i64)a.in - first) + a.d - 1) / a.d;
        count = a.k - skip < left ? a.k - skip : left;
    }
    // The kernel clipped to the padded input without passing i64 (PoolAxis::window saturates).
    i64 limit = (i64)(a.in + a.p);
    i64 end = limit < start || (u64)(limit - start) < a.k ? limit : start + (i64)a.k;
    w.first = first < 0 ? 0 : (u64)first;
    w.count = count;
    w.step = a.d;
    w.padded = end > start ? (u64)(end - start) : 0;
    return w;
}

// The outputs whose windows may hold input position `i` along an undilated axis: [lo, hi).
__device__ __forceinline__ void outputs_of(const Axis& a, u64 i, u64& lo, u64& hi) {
    if (a.k == 0) {
        lo = i * a.out / a.in;
        hi = ((i + 1) * a.out + a.in - 1) / a.in;
    } else {
        i64 first = (i64)(i + a.p) - (i64)a.k + 1;
        lo = first <= 0 ? 0 : ((u64)first + a.s - 1) / a.s;
        hi = (i + a.p) / a.s + 1;
    }
    if (hi > a.out) hi = a.out;
}

__device__ __forceinline__ double avg_divisor(const Win& h, const Win& w, int include_pad, u64 divisor) {
    if (divisor) return (double)divisor;
    // In double, as the CPU half: a huge kernel with half of it as padding overflows a u64 area.
    return include_pad ? (double)h.padded * (double)w.padded : (double)h.count * (double)w.count;
}

template <typename T>
__device__ void max_pool(u64 planes, Axis ah, Axis aw, const T* x, T* y, i64* idx) {
    typedef typename Elem<T>::acc A;
    u64 n = planes * ah.out * aw.out;
    TS_FOR_EACH(i, n) {
        u64 ow = i % aw.out, oh = (i / aw.out) % ah.out, p = i / (aw.out * ah.out);
        Win wh = window(ah, oh), ww = window(aw, ow);
        const T* plane = x + p * ah.in * aw.in;
        A best = (A)(-TS_INF);
        u64 at = wh.first * aw.in + ww.first;
        for (u64 a = 0; a < wh.count; ++a) {
            u64 row = (wh.first + a * wh.step) * aw.in + ww.first;
            for (u64 b = 0; b < ww.count; ++b) {
                u64 k = row + b * ww.step;
                A v = Elem<T>::load(plane[k]);
                if (v > best || v != v) {
                    best = v;
                    at = k;
                }
            }
        }
        y[i] = Elem<T>::store(best);
        idx[i] = (i64)at;
    }
}

template <typename T>
__device__ void avg_pool(u64 planes, Axis ah, Axis aw, int include_pad, u64 divisor, const T* x, T* y) {
    typedef typename Elem<T>::acc A;
    u64 n = planes * ah.out * aw.out;
    TS_FOR_EACH(i, n) {
        u64 ow = i % aw.out, oh = (i / aw.out) % ah.out, p = i / (aw.out * ah.out);
        Win wh = window(ah, oh), ww = window(aw, ow);
        const T* plane = x + p * ah.in * aw.in;
        A sum = 0;
        for (u64 a = 0; a < wh.count; ++a) {
            const T* row = plane + (wh.first + a) * aw.in + ww.first;
            for (u64 b = 0; b < ww.count; ++b) sum += Elem<T>::load(row[b]);
        }
        y[i] = Elem<T>::store(sum / (A)avg_divisor(wh, ww, include_pad, divisor));
    }
}

template <typename T>
__device__ void avg_pool_backward(u64 planes, Axis ah, Axis aw, int include_pad, u64 divisor, const T* dy, T* dx) {
    typedef typename Elem<T>::acc A;
    u64 n = planes * ah.in * aw.in;
    TS_FOR_EACH(i, n) {
        u64 w = i % aw.in, h = (i / aw.in) % ah.in, p = i / (aw.in * ah.in);
        const T* g = dy + p * ah.out * aw.out;
        u64 h0, h1, w0, w1;
        outputs_of(ah, h, h0, h1);
        outputs_of(aw, w, w0, w1);
        A sum = 0;
        for (u64 oh = h0; oh < h1; ++oh) {
            Win wh = window(ah, oh);
            if (h < wh.first || h >= wh.first + wh.count) continue;
            for (u64 ow = w0; ow < w1; ++ow) {
                Win ww = window(aw, ow);
                if (w < ww.first || w >= ww.first + ww.count) continue;
                sum += Elem<T>::load(g[oh * aw.out + ow]) / (A)avg_divisor(wh, ww, include_pad, divisor);
            }
        }
        dx[i] = Elem<T>::store(sum);
    }
}

template <typename T, typename A>
__device__ void max_pool_backward(u64 n, u64 plane_in, u64 plane_out, const T* dy, const i64* idx, A* acc) {
    TS_FOR_EACH(i, n) {
        atomicAdd(&acc[(i / plane_out) * plane_in + (u64)idx[i]], (A)Elem<T>::load(dy[i]));
    }
}

#define TS_AXES u64 ih, u64 oh, u64 kh, u64 sh, u64 ph, u64 dh, u64 iw, u64 ow, u64 kw, u64 sw, u64 pw, u64 dw
#define TS_MAKE_AXES make_axis(ih, oh, kh, sh, ph, dh), make_axis(iw, ow, kw, sw, pw, dw)
#define TS_POOLING(T, A, sfx)                                                                                        \
    extern "C" __global__ void max_pool2d_##sfx(u64 planes, TS_AXES, const T* __restrict__ x, T* __restrict__ y,   \
                                                i64* __restrict__ idx) {                                            \
        max_pool<T>(planes, TS_MAKE_AXES, x, y, idx);                                                                \
    }                                                                                                                \
    extern "C" __global__ void max_pool2d_backward_##sfx(u64 n, u64 plane_in, u64 plane_out, const T* __restrict__ dy, \
                                                         const i64* __restrict__ idx, A* acc) {                     \
        max_pool_backward<T, A>(n, plane_in, plane_out, dy, idx, acc);                                               \
    }                                                                                                                \
    extern "C" __global__ void avg_pool2d_##sfx(u64 planes, TS_AXES, int include_pad, u64 divisor,                  \
                                                const T* __restrict__ x, T* __restrict__ y) {                       \
        avg_pool<T>(planes, TS_MAKE_AXES, include_pad, divisor, x, y);                                               \
    }                                                                                                                \
    extern "C" __global__ void avg_pool2d_backward_##sfx(u64 planes, TS_AXES, int include_pad, u64 divisor,         \
                                                         const T* __restrict__ dy, T* __restrict__ dx) {            \
        avg_pool_backward<T>(planes, TS_MAKE_AXES, include_pad, divisor, dy, dx);                                    \
    }
TS_POOLING(float, float, f32)
TS_POOLING(double, double, f64)
TS_POOLING(f16, float, f16)
TS_POOLING(bf16, float, bf16)
