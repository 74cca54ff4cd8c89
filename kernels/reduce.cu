// Reductions over data seen as [pre, red, post] (the host permutes non-consecutive reduced dims
// to the end). Output o = p * post + q reduces the elements at row-major positions
// (p * red + r) * post + q of the view, r < red.
//
// Launch: blockDim.x threads; `warp_per_out` != 0 gives each warp its own output (small red),
// otherwise the whole block reduces one output. Either way: warp shuffles, then shared memory.
// Kernels: reduce_{sum,max,min}_<dtype> (sum of integers gives i64; `scale` makes sum a mean),
// reduce_var_<dtype>, reduce_arg{max,min}_<dtype> (i64 positions).
#include "common.cuh"

// The type a reduction accumulates in: f32 for halves, i64 for integer sums, u32 for u8 extremes
// (shuffles need 32 or 64 bits).
template <typename T> struct Red { typedef typename Elem<T>::acc sum_t; typedef typename Elem<T>::acc ext_t; };
template <> struct Red<u8> { typedef i64 sum_t; typedef u32 ext_t; };
template <> struct Red<u32> { typedef i64 sum_t; typedef u32 ext_t; };
template <> struct Red<i64> { typedef i64 sum_t; typedef i64 ext_t; };

struct Cursor {
    u64 out, first, step, red;
    bool active;
};

// Which output this thread works on, and the lanes sharing it.
__device__ __forceinline__ Cursor cursor(u64 outputs, u64 red, u64 post, int warp_per_out, u64 out) {
    Cursor c;
    c.out = out;
    c.active = out < outputs;
    c.red = red;
    c.first = warp_per_out ? (threadIdx.x & 31) : threadIdx.x;
    c.step = warp_per_out ? 32 : blockDim.x;
    return c;
}

__device__ __forceinline__ u64 position(u64 out, u64 r, u64 red, u64 post) {
    u64 p = out / post, q = out % post;
    return (p * red + r) * post + q;
}

template <typename V, typename Op> __device__ __forceinline__ V combine_all(V v, Op op, int warp_per_out, V fill) {
    return warp_per_out ? warp_reduce(v, op) : block_reduce(v, op, fill);
}

__device__ __forceinline__ u64 first_output(int warp_per_out) {
    return warp_per_out ? ((u64)blockIdx.x * blockDim.x + threadIdx.x) / 32 : blockIdx.x;
}
__device__ __forceinline__ u64 output_stride(int warp_per_out) {
    return warp_per_out ? (u64)gridDim.x * blockDim.x / 32 : gridDim.x;
}

// The loop over outputs is uniform per warp (warp mode) or per block (block mode), so every
// thread reaches the shuffles and barriers together.
#define TS_OUTPUT_LOOP(o) \
    for (u64 o = first_output(warp_per_out); o < outputs; o += output_stride(warp_per_out))

#define TS_SUM(T, O, sfx) \
    extern "C" __global__ void reduce_sum_##sfx(u64 outputs, u64 red, u64 post, int warp_per_out, Strided xs, \
                                                 const T* __restrict__ x, O* __restrict__ y, double scale) { \
        typedef Red<T>::sum_t S; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(outputs, red, post, warp_per_out, o); \
            S acc = 0; \
            for (u64 r = c.first; r < red; r += c.step) acc += (S)Elem<T>::load(x[strided_offset(xs, position(o, r, red, post))]); \
            acc = combine_all(acc, AddOp(), warp_per_out, (S)0); \
            if (c.first == 0) y[o] = Elem<O>::store(scale == 1.0 ? acc : (S)(acc * scale)); \
        } \
    }

#define TS_EXT(name, OP, T, sfx) \
    extern "C" __global__ void reduce_##name##_##sfx(u64 outputs, u64 red, u64 post, int warp_per_out, Strided xs, \
                                                      const T* __restrict__ x, T* __restrict__ y, double unused) { \
        typedef Red<T>::ext_t E; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(outputs, red, post, warp_per_out, o); \
            E acc = (E)Elem<T>::load(x[strided_offset(xs, position(o, 0, red, post))]); \
            for (u64 r = c.first; r < red; r += c.step) \
                acc = OP()(acc, (E)Elem<T>::load(x[strided_offset(xs, position(o, r, red, post))])); \
            acc = combine_all(acc, OP(), warp_per_out, acc); \
            if (c.first == 0) y[o] = Elem<T>::store((Elem<T>::acc)acc); \
        } \
    }

// Unbiased-or-not variance: mean first, then the sum of squared deviations over red - correction.
#define TS_VAR(T, sfx) \
    extern "C" __global__ void reduce_var_##sfx(u64 outputs, u64 red, u64 post, int warp_per_out, Strided xs, \
                                                 const T* __restrict__ x, T* __restrict__ y, double correction) { \
        typedef Elem<T>::acc A; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(outputs, red, post, warp_per_out, o); \
            A s = 0; \
            for (u64 r = c.first; r < red; r += c.step) s += Elem<T>::load(x[strided_offset(xs, position(o, r, red, post))]); \
            A mean = combine_all(s, AddOp(), warp_per_out, (A)0) / (A)red; \
            A ss = 0; \
            for (u64 r = c.first; r < red; r += c.step) { \
                A d = Elem<T>::load(x[strided_offset(xs, position(o, r, red, post))]) - mean; \
                ss += d * d; \
            } \
            ss = combine_all(ss, AddOp(), warp_per_out, (A)0); \
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
#ifdef TS_HOST_EMULATION
    return p;
#endif
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
    extern "C" __global__ void reduce_##name##_##sfx(u64 outputs, u64 red, u64 post, int warp_per_out, Strided xs, \
                                                      const T* __restrict__ x, i64* __restrict__ y, double unused) { \
        typedef Red<T>::ext_t E; \
        TS_OUTPUT_LOOP(o) { \
            Cursor c = cursor(outputs, red, post, warp_per_out, o); \
            ArgPair<E> best; \
            best.v = (E)Elem<T>::load(x[strided_offset(xs, position(o, 0, red, post))]); \
            best.i = 0; \
            for (u64 r = c.first; r < red; r += c.step) { \
                ArgPair<E> cand; \
                cand.v = (E)Elem<T>::load(x[strided_offset(xs, position(o, r, red, post))]); \
                cand.i = (i64)r; \
                best = arg_pick<E, GREATER>(best, cand); \
            } \
            best = warp_per_out ? arg_warp<E, GREATER>(best) : arg_block<E, GREATER>(best); \
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
