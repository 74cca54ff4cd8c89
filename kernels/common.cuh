// Shared helpers for every Tessera kernel module: element types, conversions, strided indexing,
// warp and block reductions. Header-free on purpose: NVRTC has no built-in cuda_fp16.h, so f16
// and bf16 travel as 16-bit words and convert through PTX `cvt` (f16) or bit manipulation (bf16).
#pragma once

#ifdef TS_HOST_EMULATION
// Tests only: the kernels built by a host C++ compiler, each block's threads run as fibers.
#include "host_emulation.h"
#endif

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

// IEEE half and bfloat16 as raw 16-bit words.
struct f16 { u16 bits; };
struct bf16 { u16 bits; };

#define TS_INF __longlong_as_double(0x7ff0000000000000LL)
#define TS_NAN __longlong_as_double(0x7ff8000000000000LL)
#define TS_INF_F __int_as_float(0x7f800000)
#define TS_NAN_F __int_as_float(0x7fc00000)

#ifdef TS_HOST_EMULATION
static inline float f16_to_f32(u16 h) { return ts_host_from_f16(h); }
static inline u16 f32_to_f16(float f) { return ts_host_to_f16(f); }
static inline u16 f64_to_f16(double d) { return ts_host_to_f16(d); }
#else
__device__ __forceinline__ float f16_to_f32(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ u16 f32_to_f16(float f) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
__device__ __forceinline__ u16 f64_to_f16(double d) {
    u16 h;
    asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(d));
    return h;
}
#endif
__device__ __forceinline__ float bf16_to_f32(u16 b) { return __uint_as_float(((u32)b) << 16); }
// Round to nearest even; NaN stays a (quiet) NaN.
__device__ __forceinline__ u16 f32_to_bf16(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16)(u >> 16);
}

// Element traits: `acc` is the type arithmetic happens in (f32 for the half types), `load`
// widens a stored element, `store` narrows back.
template <typename T> struct Elem;
template <> struct Elem<float> {
    typedef float acc;
    static __device__ __forceinline__ float load(float x) { return x; }
    static __device__ __forceinline__ float store(float x) { return x; }
};
template <> struct Elem<double> {
    typedef double acc;
    static __device__ __forceinline__ double load(double x) { return x; }
    static __device__ __forceinline__ double store(double x) { return x; }
};
template <> struct Elem<f16> {
    typedef float acc;
    static __device__ __forceinline__ float load(f16 x) { return f16_to_f32(x.bits); }
    static __device__ __forceinline__ f16 store(float x) { f16 r; r.bits = f32_to_f16(x); return r; }
};
template <> struct Elem<bf16> {
    typedef float acc;
    static __device__ __forceinline__ float load(bf16 x) { return bf16_to_f32(x.bits); }
    static __device__ __forceinline__ bf16 store(float x) { bf16 r; r.bits = f32_to_bf16(x); return r; }
};
#define TS_INT_ELEM(T) \
    template <> struct Elem<T> { \
        typedef T acc; \
        static __device__ __forceinline__ T load(T x) { return x; } \
        static __device__ __forceinline__ T store(T x) { return x; } \
    };
TS_INT_ELEM(u8)
TS_INT_ELEM(u32)
TS_INT_ELEM(i64)

// Any element to f64, and f64 to any element with the CPU's rules: floats round to nearest,
// float-to-integer truncates toward zero and saturates, NaN becomes 0.
template <typename T> __device__ __forceinline__ double to_f64(T x) { return (double)x; }
template <> __device__ __forceinline__ double to_f64<f16>(f16 x) { return (double)f16_to_f32(x.bits); }
template <> __device__ __forceinline__ double to_f64<bf16>(bf16 x) { return (double)bf16_to_f32(x.bits); }

template <typename T> __device__ __forceinline__ T from_f64(double v);
template <> __device__ __forceinline__ float from_f64<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ double from_f64<double>(double v) { return v; }
template <> __device__ __forceinline__ f16 from_f64<f16>(double v) { f16 r; r.bits = f64_to_f16(v); return r; }
template <> __device__ __forceinline__ bf16 from_f64<bf16>(double v) { bf16 r; r.bits = f32_to_bf16((float)v); return r; }
template <> __device__ __forceinline__ u8 from_f64<u8>(double v) {
    if (!(v > 0.0)) return 0;
    return v >= 255.0 ? (u8)255 : (u8)v;
}
template <> __device__ __forceinline__ u32 from_f64<u32>(double v) {
    if (!(v > 0.0)) return 0;
    return v >= 4294967295.0 ? 4294967295u : (u32)v;
}
template <> __device__ __forceinline__ i64 from_f64<i64>(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return 0x7fffffffffffffffLL;
    if (v <= -9223372036854775808.0) return (i64)0x8000000000000000ULL;
    return (i64)v;
}

template <typename T> __device__ __forceinline__ bool is_nan(T x) { return x != x; }

// A strided view: `rank` dims (at most TS_MAX_DIMS after the host merged mergeable dims), element
// strides (0 for broadcast) and an element offset. The host passes it by value.
#define TS_MAX_DIMS 8
struct Strided {
    u64 rank;
    u64 offset;
    u64 dims[TS_MAX_DIMS];
    u64 strides[TS_MAX_DIMS];
};

// Buffer offset of the element at row-major position `i` of the view.
__device__ __forceinline__ u64 strided_offset(const Strided& s, u64 i) {
    if (s.rank == 1 && s.strides[0] == 1) return s.offset + i;
    u64 off = s.offset;
    for (int d = (int)s.rank - 1; d >= 0; --d) {
        u64 n = s.dims[d];
        off += (i % n) * s.strides[d];
        i /= n;
    }
    return off;
}

// Grid-stride loop over `n` elements.
// Philox4x32-10, as tessera-core's `Philox`: the four words of counter `counter` under key `seed`.
struct Block { u32 w[4]; };

__device__ __forceinline__ Block philox(u64 seed, u64 counter) {
    u32 c0 = (u32)counter, c1 = (u32)(counter >> 32), c2 = 0, c3 = 0;
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u64 p0 = (u64)0xD2511F53u * c0, p1 = (u64)0xCD9E8D57u * c2;
        u32 n0 = (u32)(p1 >> 32) ^ c1 ^ k0, n1 = (u32)p1, n2 = (u32)(p0 >> 32) ^ c3 ^ k1, n3 = (u32)p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    }
    Block b;
    b.w[0] = c0; b.w[1] = c1; b.w[2] = c2; b.w[3] = c3;
    return b;
}

__device__ __forceinline__ float word_to_unit_f32(u32 w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

#define TS_FOR_EACH(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

// Warp reduction with shuffles, then across the warps of a block through shared memory. Every
// thread of the block must call it; all get the result. `Op` is a functor `T operator()(T, T)`;
// `fill` is what lanes beyond the block's warp count contribute: the identity (0 for sums) or,
// for idempotent ops (max, min), any value already in the reduction, such as the caller's own.
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

template <typename T, typename Op> __device__ __forceinline__ T block_reduce(T v, Op op, T fill) {
    __shared__ u64 scratch_raw[33];
    T* scratch = reinterpret_cast<T*>(scratch_raw);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_reduce(v, op);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T w = lane < warps ? scratch[lane] : fill;
        w = warp_reduce(w, op);
        if (lane == 0) scratch[32] = w;
    }
    __syncthreads();
    return scratch[32];
}

struct AddOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
// NaN-propagating maximum and minimum (integers have no NaN).
struct MaxOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        if (is_nan(a)) return a;
        if (is_nan(b)) return b;
        return b > a ? b : a;
    }
};
struct MinOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const {
        if (is_nan(a)) return a;
        if (is_nan(b)) return b;
        return b < a ? b : a;
    }
};

// GELU's gradients, for unary.cu and for binary.cu's fused backward. GELU is x Phi(x), taken
// through erfc(-x / sqrt 2) = 1 + erf(x / sqrt 2), which does not cancel for negative x; its
// gradient is Phi(x) + x phi(x). The tanh form: 0.5 x (1 + tanh(u)) with
// u = sqrt(2/pi) (x + 0.044715 x^3), computed as x sigmoid(2u), which equals it and does not
// cancel for negative x (1 + tanh(u) does). The gradient likewise: with e = exp(-2|u|) and r = 1 / (1 + e), sigmoid(2u) is r for u >= 0 and
// e r below, and 0.5 (1 - tanh(u)^2) = 2 sigmoid(2u) sigmoid(-2u) = 2 e r^2.
template <typename A> __device__ __forceinline__ A gelu_grad(A x) {
    return (A)0.5 * erfc(x * (A)-0.70710678118654752440) + x * exp((A)-0.5 * x * x) * (A)0.39894228040143267794;
}
template <typename A> __device__ __forceinline__ A gelu_tanh_arg(A x) {
    return (A)0.79788456080286535588 * (x + (A)0.044715 * x * x * x);
}
template <typename A> __device__ __forceinline__ A gelu_tanh_grad(A x) {
    A u = gelu_tanh_arg(x);
    A e = exp((A)-2 * (u < (A)0 ? -u : u));
    A r = (A)1 / ((A)1 + e);
    A s = u < (A)0 ? e * r : r;
    return s + (A)2 * x * e * r * r * (A)0.79788456080286535588 * ((A)1 + (A)0.134145 * x * x);
}
