// Reductions over data seen as [pre, red, post] (the host permutes non-consecutive reduced dims
// to the end). Output o = p * post + q reduces the elements at row-major positions
// (p * red + r) * post + q of the view, r < red.
//
// Launch: blockDim.x threads; `mode` says who shares an output: a block (long lines: warp
// shuffles, then shared memory), a warp (short lines: shuffles) or a single thread (column
// reductions, where neighbouring outputs are neighbouring addresses).
// Kernels: reduce_{sum,max,min}_<dtype> (sum of integers gives i64; `scale` makes sum a mean),
// reduce_var_<dtype>, reduce_arg{max,min}_<dtype> (i64 positions).
#include "common.cuh"

// The type a reduction accumulates in: f32 for halves, i64 for integer sums, u32 for u8 extremes
// (shuffles need 32 or 64 bits).
template <typename T> struct Red { typedef typename Elem<T>::acc sum_t; typedef typename Elem<T>::acc ext_t; };
template <> struct Red<u8> { typedef i64 sum_t; typedef u32 ext_t; };
template <> struct Red<u32> { typedef i64 sum_t; typedef u32 ext_t; };
template <> struct Red<i64> { typedef i64 sum_t; typedef i64 ext_t; };

// Launch modes: who shares one output.
#define TS_MODE_BLOCK 0   // the whole block (long lines)
#define TS_MODE_WARP 1    // one warp (lines up to ~1024 elements)
#define TS_MODE_THREAD 2  // one thread, no shuffles (column reductions: post >= 32, so that
                          // consecutive threads read consecutive addresses)

struct Cursor {
    u64 base, post, first, step;
};

// Where this thread starts on output `out`, and how its lanes share the line.
__device__ __forceinline__ Cursor cursor(u64 red, u64 post, int mode, u64 out) {
    Cursor c;
    u64 p = out / post, q = out % post;
    c.base = p * red * post + q;
    c.post = post;
    c.first = mode == TS_MODE_WARP ? (threadIdx.x & 31) : mode == TS_MODE_BLOCK ? threadIdx.x : 0;
    c.step = mode == TS_MODE_WARP ? 32 : mode == TS_MODE_BLOCK ? blockDim.x : 1;
    return c;
}

// Row-major position of element r of the cursor's line.
__device__ __forceinline__ u64 cpos(const Cursor& c, u64 r) { return c.base + r * c.post; }

template <typename V, typename Op> __device__ __forceinline__ V combine_all(V v, Op op, int mode, V fill) {
    if (mode == TS_MODE_WARP) return warp_reduce(v, op);
    if (mode == TS_MODE_BLOCK) return block_reduce(v, op, fill);
    return v;
}

__device__ __forceinline__ u64 first_output(int mode) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    return mode == TS_MODE_WARP ? t / 32 : mode == TS_MODE_BLOCK ? blockIdx.x : t;
}
__device__ __forceinline__ u64 output_stride(int mode) {
    u64 threads = (u64)gridDim.x * blockDim.x;
    return mode == TS_MODE_WARP ? threads / 32 : mode == TS_MODE_BLOCK ? gridDim.x : threads;
}

// The loop over outputs is uniform per warp (warp mode) or per block (block mode), so every
// thread reaches the shuffles and barriers together; thread mode has neither.
#define TS_OUTPUT_LOOP(o) for (u64 o = first_output(mode); o < outputs; o += output_stride(mode))

#define TS_SUM(T, O, sfx) \
    extern "C" __global__ void reduce_sum_##sfx(u64 outputs, u64 red, u64 post, int mode, Strided xs, \
                                                 const T* __restrict__ x, O* __restrict__ y, double scale) { \
        typedef Red<T>::sum_t S; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(red, post, mode, o); \
            S acc = 0; \
            for (u64 r = c.first; r < red; r += c.step) acc += (S)Elem<T>::load(x[strided_offset(xs, cpos(c, r))]); \
            acc = combine_all(acc, AddOp(), mode, (S)0); \
            if (c.first == 0) y[o] = Elem<O>::store(scale == 1.0 ? acc : (S)(acc * scale)); \
        } \
    }

#define TS_EXT(name, OP, T, sfx) \
    extern "C" __global__ void reduce_##name##_##sfx(u64 outputs, u64 red, u64 post, int mode, Strided xs, \
                                                      const T* __restrict__ x, T* __restrict__ y, double unused) { \
        typedef Red<T>::ext_t E; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(red, post, mode, o); \
            E acc = (E)Elem<T>::load(x[strided_offset(xs, cpos(c, 0))]); \
            for (u64 r = c.first; r < red; r += c.step) \
                acc = OP()(acc, (E)Elem<T>::load(x[strided_offset(xs, cpos(c, r))])); \
            acc = combine_all(acc, OP(), mode, acc); \
            if (c.first == 0) y[o] = Elem<T>::store((Elem<T>::acc)acc); \
        } \
    }

// Unbiased-or-not variance: mean first, then the sum of squared deviations over red - correction.
#define TS_VAR(T, sfx) \
    extern "C" __global__ void reduce_var_##sfx(u64 outputs, u64 red, u64 post, int mode, Strided xs, \
                                                 const T* __restrict__ x, T* __restrict__ y, double correction) { \
        typedef Elem<T>::acc A; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(red, post, mode, o); \
            A s = 0; \
            for (u64 r = c.first; r < red; r += c.step) s += Elem<T>::load(x[strided_offset(xs, cpos(c, r))]); \
            A mean = combine_all(s, AddOp(), mode, (A)0) / (A)red; \
            A ss = 0; \
            for (u64 r = c.first; r < red; r += c.step) { \
                A d = Elem<T>::load(x[strided_offset(xs, cpos(c, r))]) - mean; \
                ss += d * d; \
            } \
            ss = combine_all(ss, AddOp(), mode, (A)0); \
            if (c.first == 0) y[o] = Elem<T>::store(ss / ((A)red - (A)correction)); \
        } \
    }

// Arg-extremes: the first NaN wins, then the extreme value, ties to the smallest position.
template <typename E> struct ArgPair {
    E v;
    i64 i;
};
template <typename E, bool GREATER> __device__ __forceinline__ ArgPair<E> arg_pick(ArgPair<E> a, ArgPair<E> b) {
    bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) {
        if (an && bn) return a.i <= b.i ? a : b;
        return an ? a : b;
    }
    bool better = GREATER ? (b.v > a.v) : (b.v < a.v);
    if (better || (b.v == a.v && b.i < a.i)) return b;
    return a;
}
template <typename E, bool GREATER> __device__ __forceinline__ ArgPair<E> arg_warp(ArgPair<E> p) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
        ArgPair<E> q;
        q.v = __shfl_xor_sync(0xffffffffu, p.v, off);
        q.i = __shfl_xor_sync(0xffffffffu, p.i, off);
        p = arg_pick<E, GREATER>(p, q);
    }
    return p;
}
template <typename E, bool GREATER> __device__ __forceinline__ ArgPair<E> arg_block(ArgPair<E> p) {
    __shared__ u64 sv_raw[33];
    __shared__ i64 si[33];
    E* sv = reinterpret_cast<E*>(sv_raw);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    p = arg_warp<E, GREATER>(p);
    __syncthreads();
    if (lane == 0) { sv[warp] = p.v; si[warp] = p.i; }
    __syncthreads();
    if (warp == 0) {
        ArgPair<E> w;
        int k = lane < warps ? lane : 0;
        w.v = sv[k];
        w.i = si[k];
        w = arg_warp<E, GREATER>(w);
        if (lane == 0) { sv[32] = w.v; si[32] = w.i; }
    }
    __syncthreads();
    ArgPair<E> r;
    r.v = sv[32];
    r.i = si[32];
    return r;
}

#define TS_ARG(name, GREATER, T, sfx) \
    extern "C" __global__ void reduce_##name##_##sfx(u64 outputs, u64 red, u64 post, int mode, Strided xs, \
                                                      const T* __restrict__ x, i64* __restrict__ y, double unused) { \
        typedef Red<T>::ext_t E; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(red, post, mode, o); \
            ArgPair<E> best; \
            best.v = (E)Elem<T>::load(x[strided_offset(xs, cpos(c, 0))]); \
            best.i = 0; \
            for (u64 r = c.first; r < red; r += c.step) { \
                ArgPair<E> cand; \
                cand.v = (E)Elem<T>::load(x[strided_offset(xs, cpos(c, r))]); \
                cand.i = (i64)r; \
                best = arg_pick<E, GREATER>(best, cand); \
            } \
            if (mode == TS_MODE_WARP) best = arg_warp<E, GREATER>(best); \
            else if (mode == TS_MODE_BLOCK) best = arg_block<E, GREATER>(best); \
            if (c.first == 0) y[o] = best.i; \
        } \
    }

#define TS_REDUCE_ALL(T, SUM_OUT, sfx) \
    TS_SUM(T, SUM_OUT, sfx) \
    TS_EXT(max, MaxOp, T, sfx) \
    TS_EXT(min, MinOp, T, sfx) \
    TS_ARG(argmax, true, T, sfx) \
    TS_ARG(argmin, false, T, sfx)

TS_REDUCE_ALL(float, float, f32)
TS_REDUCE_ALL(double, double, f64)
TS_REDUCE_ALL(f16, f16, f16)
TS_REDUCE_ALL(bf16, bf16, bf16)
TS_REDUCE_ALL(u8, i64, u8)
TS_REDUCE_ALL(u32, i64, u32)
TS_REDUCE_ALL(i64, i64, i64)
TS_VAR(float, f32)
TS_VAR(double, f64)
TS_VAR(f16, f16)
TS_VAR(bf16, bf16)
