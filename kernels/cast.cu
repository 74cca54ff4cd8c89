// Casts between dtypes with the CPU's rules (round to nearest, float-to-integer truncates and
// saturates, NaN becomes 0), one kernel per (from, to) pair.
// Kernels: cast_<from>_<to>(n, x view, x, y).
#include "common.cuh"

template <typename F, typename T> __device__ __forceinline__ T convert(F x) { return from_f64<T>(to_f64(x)); }
// Direct paths where going through f64 would round differently or cost more.
template <> __device__ __forceinline__ f16 convert<float, f16>(float x) { f16 r; r.bits = f32_to_f16(x); return r; }
template <> __device__ __forceinline__ bf16 convert<float, bf16>(float x) { bf16 r; r.bits = f32_to_bf16(x); return r; }
template <> __device__ __forceinline__ float convert<f16, float>(f16 x) { return f16_to_f32(x.bits); }
template <> __device__ __forceinline__ float convert<bf16, float>(bf16 x) { return bf16_to_f32(x.bits); }

#define TS_CAST(F, fs, T, ts) \
    extern "C" __global__ void cast_##fs##_##ts(u64 n, Strided xs, const F* __restrict__ x, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) y[i] = convert<F, T>(x[strided_offset(xs, i)]); \
    }
#define TS_CAST_FROM(F, fs) \
    TS_CAST(F, fs, float, f32) TS_CAST(F, fs, double, f64) TS_CAST(F, fs, f16, f16) TS_CAST(F, fs, bf16, bf16) \
    TS_CAST(F, fs, u8, u8) TS_CAST(F, fs, u32, u32) TS_CAST(F, fs, i64, i64)
TS_CAST_FROM(float, f32)
TS_CAST_FROM(double, f64)
TS_CAST_FROM(f16, f16)
TS_CAST_FROM(bf16, bf16)
TS_CAST_FROM(u8, u8)
TS_CAST_FROM(u32, u32)
TS_CAST_FROM(i64, i64)
