// Elementwise ops of one operand: y[i] = op(x[strided i]), output contiguous.
// Kernels: unary_<op>_<dtype>(n, x view, x, y, p0, p1); p0/p1 carry powf's exponent, clamp's
// bounds and affine's a, b. Float ops run in f32 for f16/bf16; integer ops in f64 then saturate,
// as the CPU reference does.
#include "common.cuh"

#define TS_UNARY_FLOAT_OPS(X) \
    X(neg, -x) \
    X(abs, x < (A)0 ? -x : x) \
    X(exp, exp(x)) \
    X(log, log(x)) \
    X(sqrt, sqrt(x)) \
    X(recip, (A)1 / x) \
    X(square, x * x) \
    X(sin, sin(x)) \
    X(cos, cos(x)) \
    X(tanh, tanh(x)) \
    X(sigmoid, (A)1 / ((A)1 + exp(-x))) \
    X(relu, x < (A)0 ? (A)0 : x) \
    X(gelu, (A)0.5 * x * erfc(x * (A)-0.70710678118654752440)) \
    X(gelu_tanh, x / ((A)1 + exp((A)-2 * gelu_tanh_arg(x)))) \
    X(gelu_grad, gelu_grad(x)) \
    X(gelu_tanh_grad, gelu_tanh_grad(x)) \
    X(erf, erf(x)) \
    X(erfc, erfc(x)) \
    X(silu, x / ((A)1 + exp(-x))) \
    X(powf, pow(x, (A)p0)) \
    X(clamp, x < (A)p0 ? (A)p0 : (x > (A)p1 ? (A)p1 : x)) \
    X(affine, (A)p0 * x + (A)p1)

// Integer ops, evaluated in f64 (the op's reference definition) and converted back saturating.
#define TS_UNARY_INT_OPS(X) \
    X(neg, -x) \
    X(abs, x < 0.0 ? -x : x) \
    X(square, x * x) \
    X(relu, x < 0.0 ? 0.0 : x) \
    X(clamp, x < p0 ? p0 : (x > p1 ? p1 : x)) \
    X(affine, p0 * x + p1)

#define TS_FLOAT_KERNEL(name, expr, T, sfx) \
    extern "C" __global__ void unary_##name##_##sfx(u64 n, Strided xs, const T* __restrict__ xp, T* __restrict__ y, \
                                                     double p0, double p1) { \
        typedef Elem<T>::acc A; \
        TS_FOR_EACH(i, n) { \
            A x = Elem<T>::load(xp[strided_offset(xs, i)]); \
            y[i] = Elem<T>::store(expr); \
        } \
    }

#define TS_INT_KERNEL(name, expr, T, sfx) \
    extern "C" __global__ void unary_##name##_##sfx(u64 n, Strided xs, const T* __restrict__ xp, T* __restrict__ y, \
                                                     double p0, double p1) { \
        TS_FOR_EACH(i, n) { \
            double x = to_f64(xp[strided_offset(xs, i)]); \
            y[i] = from_f64<T>(expr); \
        } \
    }

#define TS_F32(name, expr) TS_FLOAT_KERNEL(name, expr, float, f32)
#define TS_F64(name, expr) TS_FLOAT_KERNEL(name, expr, double, f64)
#define TS_F16(name, expr) TS_FLOAT_KERNEL(name, expr, f16, f16)
#define TS_BF16(name, expr) TS_FLOAT_KERNEL(name, expr, bf16, bf16)
TS_UNARY_FLOAT_OPS(TS_F32)
TS_UNARY_FLOAT_OPS(TS_F64)
TS_UNARY_FLOAT_OPS(TS_F16)
TS_UNARY_FLOAT_OPS(TS_BF16)

#define TS_U8(name, expr) TS_INT_KERNEL(name, expr, u8, u8)
#define TS_U32(name, expr) TS_INT_KERNEL(name, expr, u32, u32)
#define TS_I64(name, expr) TS_INT_KERNEL(name, expr, i64, i64)
TS_UNARY_INT_OPS(TS_U8)
TS_UNARY_INT_OPS(TS_U32)
TS_UNARY_INT_OPS(TS_I64)
