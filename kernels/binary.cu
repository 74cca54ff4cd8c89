// Broadcast binary ops (the table of ops/binary.rs). The host broadcasts both operands to the
// output shape (zero strides) and passes the views; the output is contiguous.
// Kernels: binary_<op>_<dtype>(n, a view, b view, a, b, y).
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
    X(minimum, ts_min(a, b)) \
    X(relu_backward, a > (A)0 ? b : (A)0) \
    X(gelu_backward, b * gelu_grad(a)) \
    X(gelu_tanh_backward, b * gelu_tanh_grad(a))

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
