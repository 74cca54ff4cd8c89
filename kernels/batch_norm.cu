// Batch normalisation over the channels of a contiguous [batch, channels, inner] input
// (cpu/batch_norm.rs is the reference), one block per channel: the block's threads split the
// channel's batch·inner values and reduce with block_reduce. weight, bias and the running
// statistics are [channels] (null pointers when absent, never read then); saved is
// [3, channels] = (mean, 1 / sqrt(var + eps), var for a running estimate) in the accumulation
// type: the batch's unbiased variance in training, the running variance in eval.
// Kernels, per dtype:
//   batch_norm_<dtype>(batch, channels, inner, training, has_weight, has_bias, eps, x, weight,
//                      bias, running_mean, running_var, y, saved)
//   batch_norm_backward_<dtype>(batch, channels, inner, training, has_weight, x, weight, dy,
//                               saved, dx, dweight, dbias)
#include "common.cuh"

// Offset of value i (< batch·inner) of channel c.
__device__ __forceinline__ u64 bn_at(u64 i, u64 c, u64 channels, u64 inner) {
    return ((i / inner) * channels + c) * inner + i % inner;
}

template <typename T, typename A>
__device__ void bn_forward(u64 batch, u64 channels, u64 inner, int training, int has_w, int has_b, double eps,
                           const T* x, const T* w, const T* b, const T* rmean, const T* rvar, T* y, A* saved) {
    u64 m = batch * inner;
    for (u64 c = blockIdx.x; c < channels; c += gridDim.x) {
        A mean, var;
        if (training) {
            A s = 0;
            for (u64 i = threadIdx.x; i < m; i += blockDim.x) s += Elem<T>::load(x[bn_at(i, c, channels, inner)]);
            mean = block_reduce(s, AddOp(), (A)0) / (A)m;
            A ss = 0;
            for (u64 i = threadIdx.x; i < m; i += blockDim.x) {
                A d = Elem<T>::load(x[bn_at(i, c, channels, inner)]) - mean;
                ss += d * d;
            }
            var = block_reduce(ss, AddOp(), (A)0) / (A)m;
        } else {
            mean = Elem<T>::load(rmean[c]);
            var = Elem<T>::load(rvar[c]);
        }
        A invstd = (A)1 / sqrt(var + (A)eps);
        if (threadIdx.x == 0) {
            saved[c] = mean;
            saved[channels + c] = invstd;
            saved[2 * channels + c] = training ? var * (A)((double)m / (double)(m - 1)) : var;
        }
        A scale = has_w ? Elem<T>::load(w[c]) * invstd : invstd;
        A shift = has_b ? Elem<T>::load(b[c]) : (A)0;
        for (u64 i = threadIdx.x; i < m; i += blockDim.x) {
            u64 at = bn_at(i, c, channels, inner);
            y[at] = Elem<T>::store((Elem<T>::load(x[at]) - mean) * scale + shift);
        }
    }
}

template <typename T, typename A>
__device__ void bn_backward(u64 batch, u64 channels, u64 inner, int training, int has_w, const T* x, const T* w,
                            const T* dy, const A* saved, T* dx, T* dw, T* db) {
    u64 m = batch * inner;
    A inv_m = (A)(1.0 / (double)(m > 0 ? m : 1));
    for (u64 c = blockIdx.x; c < channels; c += gridDim.x) {
        A mean = saved[c], invstd = saved[channels + c];
        A s1 = 0, s2 = 0;
        for (u64 i = threadIdx.x; i < m; i += blockDim.x) {
            u64 at = bn_at(i, c, channels, inner);
            A g = Elem<T>::load(dy[at]);
            s1 += g;
            s2 += g * (Elem<T>::load(x[at]) - mean);
        }
        A sum_dy = block_reduce(s1, AddOp(), (A)0);
        A sum_dyx = block_reduce(s2, AddOp(), (A)0) * invstd;
        if (threadIdx.x == 0) {
            dw[c] = Elem<T>::store(sum_dyx);
            db[c] = Elem<T>::store(sum_dy);
        }
        A k = has_w ? Elem<T>::load(w[c]) * invstd : invstd;
        A mean_dy = sum_dy * inv_m, mean_dyx = sum_dyx * inv_m;
        for (u64 i = threadIdx.x; i < m; i += blockDim.x) {
            u64 at = bn_at(i, c, channels, inner);
            A g = Elem<T>::load(dy[at]);
            A v = training ? k * (g - mean_dy - (Elem<T>::load(x[at]) - mean) * invstd * mean_dyx) : k * g;
            dx[at] = Elem<T>::store(v);
        }
    }
}

#define TS_BATCH_NORM(T, A, sfx)                                                                                      \
    extern "C" __global__ void batch_norm_##sfx(u64 batch, u64 channels, u64 inner, int training, int has_w,       \
                                                int has_b, double eps, const T* __restrict__ x,                      \
                                                const T* __restrict__ w, const T* __restrict__ b,                     \
                                                const T* __restrict__ rmean, const T* __restrict__ rvar,              \
                                                T* __restrict__ y, A* __restrict__ saved) {                           \
        bn_forward<T, A>(batch, channels, inner, training, has_w, has_b, eps, x, w, b, rmean, rvar, y, saved);       \
    }                                                                                                                 \
    extern "C" __global__ void batch_norm_backward_##sfx(u64 batch, u64 channels, u64 inner, int training,          \
                                                         int has_w, const T* __restrict__ x,                         \
                                                         const T* __restrict__ w, const T* __restrict__ dy,          \
                                                         const A* __restrict__ saved, T* __restrict__ dx,            \
                                                         T* __restrict__ dw, T* __restrict__ db) {                    \
        bn_backward<T, A>(batch, channels, inner, training, has_w, x, w, dy, saved, dx, dw, db);                      \
    }
TS_BATCH_NORM(float, float, f32)
TS_BATCH_NORM(double, double, f64)
TS_BATCH_NORM(f16, float, f16)
TS_BATCH_NORM(bf16, float, bf16)
