// Softmax and log-softmax along the last dim of a view (the host permutes the dim to the end and
// permutes the contiguous result back). One block per row: max, then sum of exp(x - max), then
// the outputs, each a block reduction (warp shuffles + shared memory). f16/bf16 compute in f32.
// Kernels: softmax_<dtype>, log_softmax_<dtype>(rows, row_len, x view, x, y).
#include "common.cuh"

template <typename T, bool LOG>
__device__ __forceinline__ void softmax_rows(u64 rows, u64 len, const Strided& xs, const T* __restrict__ x,
                                             T* __restrict__ y) {
    typedef typename Elem<T>::acc A;
    for (u64 row = blockIdx.x; row < rows; row += gridDim.x) {
        u64 base = row * len;
        A m = Elem<T>::load(x[strided_offset(xs, base)]);
        for (u64 j = threadIdx.x; j < len; j += blockDim.x) m = MaxOp()(m, Elem<T>::load(x[strided_offset(xs, base + j)]));
        m = block_reduce(m, MaxOp(), m);
        A shift = (m == -(A)TS_INF) ? (A)0 : m;
        A s = 0;
        for (u64 j = threadIdx.x; j < len; j += blockDim.x) s += exp(Elem<T>::load(x[strided_offset(xs, base + j)]) - shift);
        s = block_reduce(s, AddOp(), (A)0);
        A lse = log(s), inv = (A)1 / s;
        for (u64 j = threadIdx.x; j < len; j += blockDim.x) {
            A v = Elem<T>::load(x[strided_offset(xs, base + j)]) - shift;
            y[base + j] = Elem<T>::store(LOG ? v - lse : exp(v) * inv);
        }
    }
}

#define TS_SOFTMAX(T, sfx) \
    extern "C" __global__ void softmax_##sfx(u64 rows, u64 len, Strided xs, const T* __restrict__ x, T* __restrict__ y) { \
        softmax_rows<T, false>(rows, len, xs, x, y); \
    } \
    extern "C" __global__ void log_softmax_##sfx(u64 rows, u64 len, Strided xs, const T* __restrict__ x, \
                                                  T* __restrict__ y) { \
        softmax_rows<T, true>(rows, len, xs, x, y); \
    }
TS_SOFTMAX(float, f32)
TS_SOFTMAX(double, f64)
TS_SOFTMAX(f16, f16)
TS_SOFTMAX(bf16, bf16)
