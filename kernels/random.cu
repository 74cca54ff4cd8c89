// Random fills with Philox4x32-10 (`philox` in common.cuh), the same generator and the same
// mapping from counters to values as tessera-core's `Philox` and the CPU kernels, so a seeded fill
// gives the same numbers on either device. Value i uses block `first + i / k` (k values per
// block) of key `seed`.
// Kernels: uniform_<dtype>, normal_<dtype>, bernoulli_<dtype> (float dtypes; bernoulli also u8),
// and dropout_<dtype> (float dtypes): y[i] = x[strided i] * scale where the uniform of word i % 4
// of block first + i / 4 is at least p, else 0 (tessera-kernels' `DropoutMask`).
#include "common.cuh"

__device__ __forceinline__ double words_to_unit_f64(u32 hi, u32 lo) {
    u64 bits = (((u64)hi) << 21) ^ (((u64)lo) >> 11);
    return (double)(bits & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0);
}
__device__ __forceinline__ double block_to_normal(Block b) {
    double u1 = 1.0 - words_to_unit_f64(b.w[0], b.w[1]);
    double u2 = words_to_unit_f64(b.w[2], b.w[3]);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

// f32/f16/bf16: 4 values per block from 24-bit words; f64: 2 values per block from 53 bits.
#define TS_UNIFORM(T, sfx) \
    extern "C" __global__ void uniform_##sfx(u64 n, u64 seed, u64 first, double lo, double hi, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) { \
            Block b = philox(seed, first + i / 4); \
            y[i] = from_f64<T>(lo + (hi - lo) * (double)word_to_unit_f32(b.w[i % 4])); \
        } \
    }
TS_UNIFORM(float, f32)
TS_UNIFORM(f16, f16)
TS_UNIFORM(bf16, bf16)
extern "C" __global__ void uniform_f64(u64 n, u64 seed, u64 first, double lo, double hi, double* __restrict__ y) {
    TS_FOR_EACH(i, n) {
        Block b = philox(seed, first + i / 2);
        u32 k = 2 * (u32)(i % 2);
        y[i] = lo + (hi - lo) * words_to_unit_f64(b.w[k], b.w[k + 1]);
    }
}

#define TS_NORMAL(T, sfx) \
    extern "C" __global__ void normal_##sfx(u64 n, u64 seed, u64 first, double mean, double std, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) y[i] = from_f64<T>(mean + std * block_to_normal(philox(seed, first + i))); \
    }
TS_NORMAL(float, f32)
TS_NORMAL(double, f64)
TS_NORMAL(f16, f16)
TS_NORMAL(bf16, bf16)

template <typename T> __device__ __forceinline__ T one_or_zero(bool hit) { return from_f64<T>(hit ? 1.0 : 0.0); }
#define TS_BERNOULLI(T, sfx) \
    extern "C" __global__ void bernoulli_##sfx(u64 n, u64 seed, u64 first, double p, double unused, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) { \
            Block b = philox(seed, first + i / 2); \
            u32 k = 2 * (u32)(i % 2); \
            y[i] = one_or_zero<T>(words_to_unit_f64(b.w[k], b.w[k + 1]) < p); \
        } \
    }
TS_BERNOULLI(float, f32)
TS_BERNOULLI(double, f64)
TS_BERNOULLI(f16, f16)
TS_BERNOULLI(bf16, bf16)
TS_BERNOULLI(u8, u8)

// One thread per Philox block: each block's four words serve four consecutive elements.
#define TS_DROPOUT(T, sfx) \
    extern "C" __global__ void dropout_##sfx(u64 n, u64 seed, u64 first, double p, double scale, Strided xs, \
                                            const T* __restrict__ xp, T* __restrict__ y) { \
        typedef Elem<T>::acc A; \
        TS_FOR_EACH(j, (n + 3) / 4) { \
            Block b = philox(seed, first + j); \
            for (u32 k = 0; k < 4 && 4 * j + k < n; ++k) { \
                u64 i = 4 * j + k; \
                bool keep = (double)word_to_unit_f32(b.w[k]) >= p; \
                A x = Elem<T>::load(xp[strided_offset(xs, i)]); \
                y[i] = Elem<T>::store(keep ? x * (A)scale : (A)0); \
            } \
        } \
    }
TS_DROPOUT(float, f32)
TS_DROPOUT(double, f64)
TS_DROPOUT(f16, f16)
TS_DROPOUT(bf16, bf16)
