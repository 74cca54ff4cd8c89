// Copies: strided view to contiguous, and concatenation. They only move bits, so they come per
// element width (u8, u16, u32, u64).
// Kernels: copy_<w>(n, x view, x, y), cat_<w>(n, block, out_block, start, x view, x, y).
#include "common.cuh"

#define TS_COPY(T) \
    extern "C" __global__ void copy_##T(u64 n, Strided xs, const T* __restrict__ x, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) y[i] = x[strided_offset(xs, i)]; \
    } \
    extern "C" __global__ void cat_##T(u64 n, u64 block, u64 out_block, u64 start, Strided xs, const T* __restrict__ x, \
                                       T* __restrict__ y) { \
        TS_FOR_EACH(i, n) y[(i / block) * out_block + start + i % block] = x[strided_offset(xs, i)]; \
    }
TS_COPY(u8)
TS_COPY(u16)
TS_COPY(u32)
TS_COPY(u64)
