// Rotary position embeddings (cpu/rotary.rs is the reference): one thread per pair of features
// (c, c + dim / 2) of one row (position), rotated by theta = (offset + row % seq) * base^(-2c / dim)
// computed in double, as the CPU does; sign -1 rotates by -theta. x is contiguous.
// Kernels: rotary_<dtype>(pairs, seq, dim, offset, base, sign, x, y).
#include "common.cuh"

#define TS_ROTARY(T, sfx)                                                                                             \
    extern "C" __global__ void rotary_##sfx(u64 pairs, u64 seq, u64 dim, u64 offset, double base, double sign,      \
                                            const T* __restrict__ x, T* __restrict__ y) {                             \
        u64 half = dim / 2;                                                                                           \
        TS_FOR_EACH(i, pairs) {                                                                                       \
            u64 r = i / half, c = i % half;                                                                           \
            double theta = (double)(offset + r % seq) * exp(-(2.0 * (double)c / (double)dim) * log(base));           \
            double s = sign * sin(theta), co = cos(theta);                                                            \
            typename Elem<T>::acc a = Elem<T>::load(x[r * dim + c]), b = Elem<T>::load(x[r * dim + c + half]);       \
            typedef typename Elem<T>::acc A;                                                                          \
            y[r * dim + c] = Elem<T>::store(a * (A)co - b * (A)s);                                                    \
            y[r * dim + c + half] = Elem<T>::store(b * (A)co + a * (A)s);                                             \
        }                                                                                                             \
    }
TS_ROTARY(float, f32)
TS_ROTARY(double, f64)
TS_ROTARY(f16, f16)
TS_ROTARY(bf16, bf16)
