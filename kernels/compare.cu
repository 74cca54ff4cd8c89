// Broadcast comparisons (the table of ops/compare.rs) giving u8 masks, and where. The host
// broadcasts every operand to the output shape (zero strides); the output is contiguous.
// Kernels: cmp_<op>_<dtype>(n, a view, b view, a, b, mask), where_<dtype>(n, mask view, t view,
// f view, mask, t, f, y).
#include "common.cuh"

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
