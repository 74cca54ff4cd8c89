// Buffers made from nothing: constant fills. A fill only moves bits (the host converts the value
// to the dtype), so it comes per element width (u8, u16, u32, u64). arange and eye are computed
// on the host (a handful of values) and uploaded.
// Kernels: fill_<w>(n, y, value).
#include "common.cuh"

#define TS_FILL(T) \
    extern "C" __global__ void fill_##T(u64 n, T* __restrict__ y, T value) { \
        TS_FOR_EACH(i, n) y[i] = value; \
    }
TS_FILL(u8)
TS_FILL(u16)
TS_FILL(u32)
TS_FILL(u64)
