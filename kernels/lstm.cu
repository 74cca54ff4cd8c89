// The fused LSTM cell (gate order i, f, g, o; gates [batch, 4 * hidden], states [batch, hidden]).
// One thread per (row, unit): it reads the unit's four gates and writes its states, so both
// kernels are one pass over memory. Inputs are strided views (a step of a [seq, batch, 4H]
// projection, a narrowed gradient); outputs are contiguous. f16/bf16 compute in f32. The
// arithmetic follows the CPU reference (crates/tessera-kernels/src/cpu/lstm.rs) step for step.
//
// Kernels:
//   lstm_cell_<dtype>(batch, hidden, x view, h view, c_prev view, x, h, c_prev, h_out, c_out, acts)
//     acts = [sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)], c = f * c_prev + i * g, h = o * tanh(c)
//   lstm_cell_backward_<dtype>(batch, hidden, acts view, c_prev view, c view, dh view, dc view,
//                              acts, c_prev, c, dh, dc, d_gates, dc_prev)
#include "common.cuh"

template <typename A> __device__ __forceinline__ A ts_sigmoid(A x) { return (A)1 / ((A)1 + exp(-x)); }

template <typename T>
__device__ __forceinline__ void lstm_forward(u64 batch, u64 hidden, const Strided& xs, const Strided& hs,
                                             const Strided& cs, const T* __restrict__ x, const T* __restrict__ h,
                                             const T* __restrict__ c_prev, T* __restrict__ h_out,
                                             T* __restrict__ c_out, T* __restrict__ acts) {
    typedef typename Elem<T>::acc A;
    TS_FOR_EACH(k, batch * hidden) {
        u64 b = k / hidden, j = k - b * hidden;
        u64 gi = b * 4 * hidden + j, gf = gi + hidden, gg = gf + hidden, go = gg + hidden;
#define TS_PRE(p) (Elem<T>::load(x[strided_offset(xs, p)]) + Elem<T>::load(h[strided_offset(hs, p)]))
        A i = ts_sigmoid<A>(TS_PRE(gi));
        A f = ts_sigmoid<A>(TS_PRE(gf));
        A g = tanh(TS_PRE(gg));
        A o = ts_sigmoid<A>(TS_PRE(go));
#undef TS_PRE
        A c = f * Elem<T>::load(c_prev[strided_offset(cs, k)]) + i * g;
        acts[gi] = Elem<T>::store(i);
        acts[gf] = Elem<T>::store(f);
        acts[gg] = Elem<T>::store(g);
        acts[go] = Elem<T>::store(o);
        c_out[k] = Elem<T>::store(c);
        h_out[k] = Elem<T>::store(o * tanh(c));
    }
}

template <typename T>
__device__ __forceinline__ void lstm_backward(u64 batch, u64 hidden, const Strided& as, const Strided& cps,
                                              const Strided& cs, const Strided& dhs, const Strided& dcs,
                                              const T* __restrict__ acts, const T* __restrict__ c_prev,
                                              const T* __restrict__ c, const T* __restrict__ dh,
                                              const T* __restrict__ dc, T* __restrict__ d_gates,
                                              T* __restrict__ dc_prev) {
    typedef typename Elem<T>::acc A;
    const A one = (A)1;
    TS_FOR_EACH(k, batch * hidden) {
        u64 b = k / hidden, j = k - b * hidden;
        u64 gi = b * 4 * hidden + j, gf = gi + hidden, gg = gf + hidden, go = gg + hidden;
        A i = Elem<T>::load(acts[strided_offset(as, gi)]);
        A f = Elem<T>::load(acts[strided_offset(as, gf)]);
        A g = Elem<T>::load(acts[strided_offset(as, gg)]);
        A o = Elem<T>::load(acts[strided_offset(as, go)]);
        A tc = tanh(Elem<T>::load(c[strided_offset(cs, k)]));
        A dhk = Elem<T>::load(dh[strided_offset(dhs, k)]);
        A dct = Elem<T>::load(dc[strided_offset(dcs, k)]) + dhk * o * (one - tc * tc);
        d_gates[gi] = Elem<T>::store(dct * g * (i * (one - i)));
        d_gates[gf] = Elem<T>::store(dct * Elem<T>::load(c_prev[strided_offset(cps, k)]) * (f * (one - f)));
        d_gates[gg] = Elem<T>::store(dct * i * (one - g * g));
        d_gates[go] = Elem<T>::store(dhk * tc * (o * (one - o)));
        dc_prev[k] = Elem<T>::store(dct * f);
    }
}

#define TS_LSTM(T, sfx) \
    extern "C" __global__ void lstm_cell_##sfx(u64 batch, u64 hidden, Strided xs, Strided hs, Strided cs, \
                                               const T* __restrict__ x, const T* __restrict__ h, \
                                               const T* __restrict__ c_prev, T* __restrict__ h_out, \
                                               T* __restrict__ c_out, T* __restrict__ acts) { \
        lstm_forward<T>(batch, hidden, xs, hs, cs, x, h, c_prev, h_out, c_out, acts); \
    } \
    extern "C" __global__ void lstm_cell_backward_##sfx( \
        u64 batch, u64 hidden, Strided as, Strided cps, Strided cs, Strided dhs, Strided dcs, \
        const T* __restrict__ acts, const T* __restrict__ c_prev, const T* __restrict__ c, const T* __restrict__ dh, \
        const T* __restrict__ dc, T* __restrict__ d_gates, T* __restrict__ dc_prev) { \
        lstm_backward<T>(batch, hidden, as, cps, cs, dhs, dcs, acts, c_prev, c, dh, dc, d_gates, dc_prev); \
    }
TS_LSTM(float, f32)
TS_LSTM(double, f64)
TS_LSTM(f16, f16)
TS_LSTM(bf16, bf16)
