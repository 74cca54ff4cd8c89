// Broadcast binary ops, comparisons and where. The host broadcasts every operand to the output
// shape (zero strides) and passes the views; the output is contiguous.
// Kernels: binary_<op>_<dtype>, cmp_<op>_<dtype> (u8 mask), where_<dtype>.
#include "common.cuh"

template <typename A> __device__ __forceinline__ A ts_max(A a, A b) {
    if (a > b) return a;
    if (b >= a) return b;
    return a + b;  // one is NaN: NaN propagates
}
template <typename A> __device__ __forceinline__ A ts_min(A a, A b) {
    if (a < b) return a;
    if (b <= a) return b;
    return a + b;
}

#define TS_BINARY_FLOAT_OPS(X) \
    X(add, a + b) \
    X(sub, a - b) \
    X(mul, a * b) \
    X(div, a / b) \
    X(pow, pow(a, b)) \
    X(maximum, ts_max(a, b)) \
    X(minimum, ts_min(a, b))

// Integer arithmetic wraps (unsigned arithmetic in the type's width); the host rejects integer
// division by zero before launching.
#define TS_BINARY_INT_OPS(X) \
    X(add, (ET)((EW)a + (EW)b)) \
    X(sub, (ET)((EW)a - (EW)b)) \
    X(mul, (ET)((EW)a * (EW)b)) \
    X(div, (ET)(a / b)) \
    X(maximum, a > b ? a : b) \
    X(minimum, a < b ? a : b)

#define TS_BIN_FLOAT(name, expr, T, sfx) \
    extern "C" __global__ void binary_##name##_##sfx(u64 n, Strided as, Strided bs, const T* __restrict__ ap, \
                                                      const T* __restrict__ bp, T* __restrict__ y) { \
        typedef Elem<T>::acc A; \
        TS_FOR_EACH(i, n) { \
            A a = Elem<T>::load(ap[strided_offset(as, i)]); \
            A b = Elem<T>::load(bp[strided_offset(bs, i)]); \
            y[i] = Elem<T>::store(expr); \
        } \
    }

#define TS_BIN_INT(name, expr, T, W, sfx) \
    extern "C" __global__ void binary_##name##_##sfx(u64 n, Strided as, Strided bs, const T* __restrict__ ap, \
                                                      const T* __restrict__ bp, T* __restrict__ y) { \
        typedef T ET; \
        typedef W EW; \
        TS_FOR_EACH(i, n) { \
            T a = ap[strided_offset(as, i)]; \
            T b = bp[strided_offset(bs, i)]; \
            y[i] = expr; \
        } \
    }

#define TS_BF32(name, expr) TS_BIN_FLOAT(name, expr, float, f32)
#define TS_BF64(name, expr) TS_BIN_FLOAT(name, expr, double, f64)
#define TS_BF16(name, expr) TS_BIN_FLOAT(name, expr, f16, f16)
#define TS_BBF16(name, expr) TS_BIN_FLOAT(name, expr, bf16, bf16)
TS_BINARY_FLOAT_OPS(TS_BF32)
TS_BINARY_FLOAT_OPS(TS_BF64)
TS_BINARY_FLOAT_OPS(TS_BF16)
TS_BINARY_FLOAT_OPS(TS_BBF16)

#define TS_BU8(name, expr) TS_BIN_INT(name, expr, u8, u32, u8)
#define TS_BU32(name, expr) TS_BIN_INT(name, expr, u32, u32, u32)
#define TS_BI64(name, expr) TS_BIN_INT(name, expr, i64, u64, i64)
TS_BINARY_INT_OPS(TS_BU8)
TS_BINARY_INT_OPS(TS_BU32)
TS_BINARY_INT_OPS(TS_BI64)

// Comparisons: NaN compares false except for ne.
#define TS_CMP_OPS(X) X(eq, ==) X(ne, !=) X(lt, <) X(le, <=) X(gt, >) X(ge, >=)

#define TS_CMP(name, op, T, sfx) \
    extern "C" __global__ void cmp_##name##_##sfx(u64 n, Strided as, Strided bs, const T* __restrict__ ap, \
                                                   const T* __restrict__ bp, u8* __restrict__ y) { \
        TS_FOR_EACH(i, n) { \
            Elem<T>::acc a = Elem<T>::load(ap[strided_offset(as, i)]); \
            Elem<T>::acc b = Elem<T>::load(bp[strided_offset(bs, i)]); \
            y[i] = (a op b) ? 1 : 0; \
        } \
    }

#define TS_CMP_ALL(name, op) \
    TS_CMP(name, op, float, f32) TS_CMP(name, op, double, f64) TS_CMP(name, op, f16, f16) \
    TS_CMP(name, op, bf16, bf16) TS_CMP(name, op, u8, u8) TS_CMP(name, op, u32, u32) TS_CMP(name, op, i64, i64)
TS_CMP_OPS(TS_CMP_ALL)

// where: mask (u8, nonzero is true) ? t : f, all three broadcast views.
#define TS_WHERE(T, sfx) \
    extern "C" __global__ void where_##sfx(u64 n, Strided ms, Strided ts, Strided fs, const u8* __restrict__ m, \
                                            const T* __restrict__ t, const T* __restrict__ f, T* __restrict__ y) { \
        TS_FOR_EACH(i, n) { \
            y[i] = m[strided_offset(ms, i)] ? t[strided_offset(ts, i)] : f[strided_offset(fs, i)]; \
        } \
    }
TS_WHERE(float, f32)
TS_WHERE(double, f64)
TS_WHERE(f16, f16)
TS_WHERE(bf16, bf16)
TS_WHERE(u8, u8)
TS_WHERE(u32, u32)
TS_WHERE(i64, i64)
