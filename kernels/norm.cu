// LayerNorm and RMSNorm over the last dim (cpu/norm.rs is the reference), one warp per row:
// the lanes split the row and reduce with shuffles. x, dy and the outputs are contiguous
// [rows, width] (the host copies views); weight and bias [width] (null pointers when absent,
// never read then); stats [rows, 2] = (mean, 1 / sqrt(var + eps)) in the accumulation type,
// mean 0 for RMSNorm (kind 1).
// Kernels, per dtype:
//   norm_<dtype>(rows, width, kind, has_weight, has_bias, eps, x, weight, bias, y, stats)
//   norm_backward_<dtype>(rows, width, kind, has_weight, x, weight, dy, stats, dx)
//   norm_param_grads_<dtype>(rows, width, want_weight, want_bias, x, dy, stats, dweight, dbias)
#include "common.cuh"

template <typename T, typename A>
__device__ void norm_rows(u64 rows, u64 width, int kind, int has_w, int has_b, double eps, const T* x, const T* w,
                          const T* b, T* y, A* stats) {
    int lanes = blockDim.x < 32 ? (int)blockDim.x : 32, lane = (int)threadIdx.x % 32;
    u64 warps = (blockDim.x + 31) / 32, warp = threadIdx.x / 32;
    for (u64 r = (u64)blockIdx.x * warps + warp; r < rows; r += (u64)gridDim.x * warps) {
        const T* xr = x + r * width;
        A mean = 0;
        if (kind == 0) {
            A s = 0;
            for (u64 c = lane; c < width; c += lanes) s += Elem<T>::load(xr[c]);
            mean = warp_reduce(s, AddOp()) / (A)width;
        }
        A ss = 0;
        for (u64 c = lane; c < width; c += lanes) {
            A d = Elem<T>::load(xr[c]) - mean;
            ss += d * d;
        }
        A rstd = (A)1 / sqrt(warp_reduce(ss, AddOp()) / (A)width + (A)eps);
        for (u64 c = lane; c < width; c += lanes) {
            A h = (Elem<T>::load(xr[c]) - mean) * rstd;
            if (has_w) h = h * Elem<T>::load(w[c]);
            if (has_b) h = h + Elem<T>::load(b[c]);
            y[r * width + c] = Elem<T>::store(h);
        }
        if (lane == 0) {
            stats[2 * r] = mean;
            stats[2 * r + 1] = rstd;
        }
    }
}

template <typename T, typename A>
__device__ void norm_backward_rows(u64 rows, u64 width, int kind, int has_w, const T* x, const T* w, const T* dy,
                                   const A* stats, T* dx) {
    int lanes = blockDim.x < 32 ? (int)blockDim.x : 32, lane = (int)threadIdx.x % 32;
    u64 warps = (blockDim.x + 31) / 32, warp = threadIdx.x / 32;
    for (u64 r = (u64)blockIdx.x * warps + warp; r < rows; r += (u64)gridDim.x * warps) {
        A mean = stats[2 * r], rstd = stats[2 * r + 1];
        A sg = 0, sgx = 0;
        for (u64 c = lane; c < width; c += lanes) {
            A g = Elem<T>::load(dy[r * width + c]) * (has_w ? Elem<T>::load(w[c]) : (A)1);
            sg += g;
            sgx += g * (Elem<T>::load(x[r * width + c]) - mean) * rstd;
        }
        A mean_g = kind == 0 ? warp_reduce(sg, AddOp()) / (A)width : (A)0;
        A mean_gx = warp_reduce(sgx, AddOp()) / (A)width;
        for (u64 c = lane; c < width; c += lanes) {
            A g = Elem<T>::load(dy[r * width + c]) * (has_w ? Elem<T>::load(w[c]) : (A)1);
            A h = (Elem<T>::load(x[r * width + c]) - mean) * rstd;
            dx[r * width + c] = Elem<T>::store(rstd * (g - mean_g - h * mean_gx));
        }
    }
}

// The parameters' gradients, column sums over the rows: dweight = sum dy * x_hat, dbias = sum dy
// (each written only where wanted). A block of 256 threads per 32 columns: a warp's lanes take
// adjacent columns, so its loads of a row are one transaction, and the block's 8 warps split the
// rows, their partial sums added in warp order through shared memory.
#define TS_PARAM_WARPS 8
template <typename T, typename A>
__device__ void norm_param_grads_cols(u64 rows, u64 width, int want_w, int want_b, const T* x, const T* dy,
                                      const A* stats, T* dw, T* db) {
    __shared__ A sums_w[32 * TS_PARAM_WARPS], sums_b[32 * TS_PARAM_WARPS];
    u64 lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (u64 c0 = (u64)blockIdx.x * 32; c0 < width; c0 += (u64)gridDim.x * 32) {
        u64 c = c0 + lane;
        A gw = 0, gb = 0;
        if (c < width) {
            for (u64 r = warp; r < rows; r += TS_PARAM_WARPS) {
                A g = Elem<T>::load(dy[r * width + c]);
                gw += g * ((Elem<T>::load(x[r * width + c]) - stats[2 * r]) * stats[2 * r + 1]);
                gb += g;
            }
        }
        sums_w[threadIdx.x] = gw;
        sums_b[threadIdx.x] = gb;
        __syncthreads();
        if (warp == 0 && c < width) {
            A tw = 0, tb = 0;
            for (u64 k = 0; k < TS_PARAM_WARPS; k++) {
                tw += sums_w[k * 32 + lane];
                tb += sums_b[k * 32 + lane];
            }
            if (want_w) dw[c] = Elem<T>::store(tw);
            if (want_b) db[c] = Elem<T>::store(tb);
        }
        __syncthreads();
    }
}

#define TS_NORM(T, A, sfx)                                                                                            \
    extern "C" __global__ void norm_##sfx(u64 rows, u64 width, int kind, int has_w, int has_b, double eps,           \
                                          const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, \
                                          T* __restrict__ y, A* __restrict__ stats) {                                 \
        norm_rows<T, A>(rows, width, kind, has_w, has_b, eps, x, w, b, y, stats);                                     \
    }                                                                                                                 \
    extern "C" __global__ void norm_backward_##sfx(u64 rows, u64 width, int kind, int has_w, const T* __restrict__ x, \
                                                   const T* __restrict__ w, const T* __restrict__ dy,                \
                                                   const A* __restrict__ stats, T* __restrict__ dx) {                 \
        norm_backward_rows<T, A>(rows, width, kind, has_w, x, w, dy, stats, dx);                                      \
    }                                                                                                                 \
    extern "C" __global__ void norm_param_grads_##sfx(u64 rows, u64 width, int want_w, int want_b,                  \
                                                      const T* __restrict__ x, const T* __restrict__ dy,             \
                                                      const A* __restrict__ stats, T* __restrict__ dw,               \
                                                      T* __restrict__ db) {                                          \
        norm_param_grads_cols<T, A>(rows, width, want_w, want_b, x, dy, stats, dw, db);                               \
    }
TS_NORM(float, float, f32)
TS_NORM(double, double, f64)
TS_NORM(f16, float, f16)
TS_NORM(bf16, float, bf16)
