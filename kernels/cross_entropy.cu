// The halves of fused softmax cross-entropy (cpu/cross_entropy.rs is the reference).
#include "common.cuh"

// logsumexp_<dtype>(rows, len, x view, x, y): y[row] = log(sum(exp(x[row, :]))), max-shifted; one
// block per row. cross_entropy_backward_<dtype>(n, classes, x view, x, lse, target, scale,
// smoothing, y): y[r, j] = scale[r] * (exp(x[r, j] - lse[r]) - smoothing / classes
// - (1 - smoothing) * [j == target[r]]), grid-stride over n * classes; lse and scale are
// contiguous [n] of the logits' dtype, target a contiguous [n] i64 already checked to lie in
// 0..classes.
template <typename T>
__device__ __forceinline__ void logsumexp_rows(u64 rows, u64 len, const Strided& xs, const T* __restrict__ x,
                                               T* __restrict__ y) {
    typedef typename Elem<T>::acc A;
    for (u64 row = blockIdx.x; row < rows; row += gridDim.x) {
        u64 base = row * len;
        A m = -(A)TS_INF;
        for (u64 j = threadIdx.x; j < len; j += blockDim.x) m = MaxOp()(m, Elem<T>::load(x[strided_offset(xs, base + j)]));
        m = block_reduce(m, MaxOp(), -(A)TS_INF);
        A shift = (m == -(A)TS_INF) ? (A)0 : m;
        A s = 0;
        for (u64 j = threadIdx.x; j < len; j += blockDim.x) s += exp(Elem<T>::load(x[strided_offset(xs, base + j)]) - shift);
        s = block_reduce(s, AddOp(), (A)0);
        if (threadIdx.x == 0) y[row] = Elem<T>::store(log(s) + shift);
    }
}

#define TS_CROSS_ENTROPY(T, sfx) \
    extern "C" __global__ void logsumexp_##sfx(u64 rows, u64 len, Strided xs, const T* __restrict__ x, \
                                                T* __restrict__ y) { \
        logsumexp_rows<T>(rows, len, xs, x, y); \
    } \
    extern "C" __global__ void cross_entropy_backward_##sfx(u64 n, u64 classes, Strided xs, const T* __restrict__ x, \
                                                             const T* __restrict__ lse, const i64* __restrict__ target, \
                                                             const T* __restrict__ scale, double smoothing, \
                                                             T* __restrict__ y) { \
        typedef Elem<T>::acc A; \
        A uniform = (A)(smoothing / (double)classes), hit = (A)(1.0 - smoothing); \
        TS_FOR_EACH(i, n * classes) { \
            u64 r = i / classes, j = i % classes; \
            A v = exp(Elem<T>::load(x[strided_offset(xs, i)]) - Elem<T>::load(lse[r])) - uniform; \
            if ((i64)j == target[r]) v -= hit; \
            y[i] = Elem<T>::store(Elem<T>::load(scale[r]) * v); \
        } \
    }
TS_CROSS_ENTROPY(float, f32)
TS_CROSS_ENTROPY(double, f64)
TS_CROSS_ENTROPY(f16, f16)
TS_CROSS_ENTROPY(bf16, bf16)
