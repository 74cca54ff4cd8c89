// Indexing: index_select, gather, scatter_add, and the bounds check they all run first.
// Indices arrive as a contiguous i64 buffer (the host casts u32 indices and copies views).
// Kernels: check_indices(n, idx, size, first_bad), index_select_<dtype>, gather_<dtype>,
// scatter_add_<dtype> (atomicAdd; f16/bf16/u8 through a 32-bit compare-and-swap loop).
#include "common.cuh"

// The first out-of-range position: *bad (initialised to all ones by the host) becomes the
// smallest i with idx[i] outside 0..size, so the error names the same index as the CPU's.
extern "C" __global__ void check_indices(u64 n, const i64* __restrict__ idx, u64 size, u64* bad) {
    TS_FOR_EACH(i, n) {
        i64 v = idx[i];
        if (v < 0 || (u64)v >= size) atomicMin(bad, i);
    }
}

// out[o, j, q] = src[o, idx[j], q]; src is a view of shape [outer, size, inner] (row-major).
#define TS_INDEX_SELECT(T, sfx) \
    extern "C" __global__ void index_select_##sfx(u64 n, u64 count, u64 size, u64 inner, Strided xs, \
                                                   const T* __restrict__ x, const i64* __restrict__ idx, \
                                                   T* __restrict__ y) { \
        TS_FOR_EACH(i, n) { \
            u64 q = i % inner, j = (i / inner) % count, o = i / (inner * count); \
            y[i] = x[strided_offset(xs, (o * size + (u64)idx[j]) * inner + q)]; \
        } \
    }

// Element `lin` of the index tensor (shape `xs.dims`, the index shape) reads src at the same
// coordinate except along `dim`, where it reads idx[lin]. xs carries src's strides.
#define TS_GATHER(T, sfx) \
    extern "C" __global__ void gather_##sfx(u64 n, u64 dim, Strided xs, const T* __restrict__ x, \
                                             const i64* __restrict__ idx, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) { \
            u64 off = xs.offset, rest = i; \
            for (int d = (int)xs.rank - 1; d >= 0; --d) { \
                u64 c = rest % xs.dims[d]; \
                rest /= xs.dims[d]; \
                off += ((u64)d == dim ? (u64)idx[i] : c) * xs.strides[d]; \
            } \
            y[i] = x[off]; \
        } \
    }

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(u32* p, u32 v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(i64* p, i64 v) { atomicAdd((u64*)p, (u64)v); }

// 8- and 16-bit adds: compare-and-swap on the aligned 32-bit word holding the element.
template <typename T, typename F> __device__ __forceinline__ void atomic_narrow(T* p, F add) {
    u64 addr = (u64)p;
    u32* word = (u32*)(addr & ~(u64)3);
    u32 shift = (u32)(addr & 3) * 8, mask = sizeof(T) == 1 ? 0xffu : 0xffffu;
    u32 old = *word, assumed;
    do {
        assumed = old;
        u32 cur = (assumed >> shift) & mask;
        u32 next = add(cur) & mask;
        old = atomicCAS(word, assumed, (assumed & ~(mask << shift)) | (next << shift));
    } while (assumed != old);
}
struct AddF16 { float v; __device__ u32 operator()(u32 c) const { return f32_to_f16(f16_to_f32((u16)c) + v); } };
struct AddBF16 { float v; __device__ u32 operator()(u32 c) const { return f32_to_bf16(bf16_to_f32((u16)c) + v); } };
struct AddU8 { u32 v; __device__ u32 operator()(u32 c) const { return c + v; } };
__device__ __forceinline__ void atomic_add(f16* p, f16 v) { AddF16 f; f.v = f16_to_f32(v.bits); atomic_narrow(p, f); }
__device__ __forceinline__ void atomic_add(bf16* p, bf16 v) { AddBF16 f; f.v = bf16_to_f32(v.bits); atomic_narrow(p, f); }
__device__ __forceinline__ void atomic_add(u8* p, u8 v) { AddU8 f; f.v = v; atomic_narrow(p, f); }

// out (contiguous, already holding the base) += src along `dim` at idx. ss: src's strides over the
// index shape (ss.dims = index dims); ostr: out's contiguous strides.
#define TS_SCATTER_ADD(T, sfx) \
    extern "C" __global__ void scatter_add_##sfx(u64 n, u64 dim, Strided ss, Strided os, const T* __restrict__ src, \
                                                  const i64* __restrict__ idx, T* y) { \
        TS_FOR_EACH(i, n) { \
            u64 so = ss.offset, oo = 0, rest = i; \
            for (int d = (int)ss.rank - 1; d >= 0; --d) { \
                u64 c = rest % ss.dims[d]; \
                rest /= ss.dims[d]; \
                so += c * ss.strides[d]; \
                oo += ((u64)d == dim ? (u64)idx[i] : c) * os.strides[d]; \
            } \
            atomic_add(&y[oo], src[so]); \
        } \
    }

#define TS_INDEX_ALL(T, sfx) TS_INDEX_SELECT(T, sfx) TS_GATHER(T, sfx) TS_SCATTER_ADD(T, sfx)
TS_INDEX_ALL(float, f32)
TS_INDEX_ALL(double, f64)
TS_INDEX_ALL(f16, f16)
TS_INDEX_ALL(bf16, bf16)
TS_INDEX_ALL(u8, u8)
TS_INDEX_ALL(u32, u32)
TS_INDEX_ALL(i64, i64)
