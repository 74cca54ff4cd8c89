// Fused scaled-dot-product attention, forward and backward, with an online softmax: no
// q_len x kv_len matrix exists (cpu/attention.rs is the reference and documents the scheme).
// Operands are contiguous (the host copies views): q [P, Sq, D], k [P, Sk, D], v [P, Sk, Dv],
// P = batch * heads; the key-padding mask is u8 [batch, Sk] (nonzero: ignored); lse [P, Sq] is
// in the accumulation type. D and Dv are at most TS_ATTN_MAX_D.
//
// One warp per row (a query row forward and for dQ, a key row for dK and dV); the lanes split
// the row's width and reduce dot products with shuffles. Key (or query) tiles of TS_ATTN_TILE rows
// are staged in shared memory once per block and read by all its warps. Written for
// correctness first: no tensor cores yet.
//
// Kernels, per dtype:
//   attention_<dtype>(P, heads, Sq, Sk, D, Dv, causal, scale, has_mask, drop_p, seed, first,
//                     q, k, v, mask, out, lse)
//   attention_delta_<dtype>(P * Sq, Dv, out, d_out, delta)       delta[r] = d_out[r] . out[r]
//   attention_dkdv_<dtype>(P, heads, Sq, Sk, D, Dv, causal, scale, has_mask, drop_p, seed, first,
//                          q, k, v, mask, d_out, lse, delta, dk, dv)
//   attention_dq_<dtype>(same, ..., d_out, lse, delta, dq)
#include "common.cuh"

#define TS_ATTN_MAX_D 128

// The sizes and flags every attention kernel takes.
struct AttnArgs {
    u64 problems, heads, sq, sk, d, dv;
    int causal, has_mask;
    double scale, drop_p;
    u64 seed, first;
};

// Keys j < key_limit(i) are visible to query i (the queries are the last Sq positions).
__device__ __forceinline__ u64 key_limit(const AttnArgs& a, u64 i) { return a.causal ? i + 1 + a.sk - a.sq : a.sk; }

__device__ __forceinline__ bool padded(const AttnArgs& a, const u8* mask, u64 p, u64 j) {
    return a.has_mask && mask[(p / a.heads) * a.sk + j] != 0;
}

// The dropout factor of weight (p, i, j): 1 / (1 - p) when kept, 0 when dropped (1 without).
template <typename A> __device__ __forceinline__ A drop_factor(const AttnArgs& a, u64 p, u64 i, u64 j) {
    if (a.drop_p <= 0.0) return (A)1;
    u64 n = (p * a.sq + i) * a.sk + j;
    Block b = philox(a.seed, a.first + n / 4);
    return (double)word_to_unit_f32(b.w[n % 4]) >= a.drop_p ? (A)(1.0 / (1.0 - a.drop_p)) : (A)0;
}

// Lane layout of a block: warps of up to 32 lanes.
struct Lanes {
    int warp, lane, lanes, warps;
    __device__ Lanes() {
        lanes = blockDim.x < 32 ? (int)blockDim.x : 32;
        warps = ((int)blockDim.x + 31) / 32;
        warp = (int)threadIdx.x / 32;
        lane = (int)threadIdx.x % 32;
    }
};

// Stages rows [r0, r0 + TILE) of a [P, rows, width] tensor of problem p into shared memory
// (zeros past the end), all threads of the block taking part.
template <typename T, typename A, int TILE>
__device__ __forceinline__ void stage(A* dst, const T* src, u64 p, u64 rows, u64 width, u64 r0) {
    for (u64 t = threadIdx.x; t < (u64)TILE * width; t += blockDim.x) {
        u64 r = r0 + t / width, c = t % width;
        dst[(t / width) * TS_ATTN_MAX_D + c] = r < rows ? Elem<T>::load(src[(p * rows + r) * width + c]) : (A)0;
    }
}

// The dot product of two rows in shared memory, split across the warp's lanes.
template <typename A> __device__ __forceinline__ A row_dot(const A* x, const A* y, u64 n, const Lanes& l) {
    A s = 0;
    for (u64 c = l.lane; c < n; c += l.lanes) s += x[c] * y[c];
    return warp_reduce(s, AddOp());
}

template <typename T, typename A, int TILE>
__device__ void attention_forward(AttnArgs a, const T* q, const T* k, const T* v, const u8* mask, T* out, A* lse) {
    __shared__ A ks[TILE * TS_ATTN_MAX_D], vs[TILE * TS_ATTN_MAX_D];
    __shared__ A qs[4 * TS_ATTN_MAX_D], acc[4 * TS_ATTN_MAX_D];
    Lanes l;
    u64 chunks = (a.sq + l.warps - 1) / l.warps;
    for (u64 unit = blockIdx.x; unit < a.problems * chunks; unit += gridDim.x) {
        u64 p = unit / chunks, i0 = (unit % chunks) * l.warps, i = i0 + l.warp;
        bool valid = i < a.sq;
        A* qi = qs + l.warp * TS_ATTN_MAX_D;
        A* ai = acc + l.warp * TS_ATTN_MAX_D;
        if (valid) {
            for (u64 c = l.lane; c < a.d; c += l.lanes) qi[c] = Elem<T>::load(q[(p * a.sq + i) * a.d + c]);
            for (u64 c = l.lane; c < a.dv; c += l.lanes) ai[c] = 0;
        }
        A m = -(A)TS_INF, sum = 0;
        u64 last = i0 + l.warps - 1 < a.sq ? i0 + l.warps - 1 : a.sq - 1;
        u64 block_limit = key_limit(a, last);
        for (u64 j0 = 0; j0 < block_limit; j0 += TILE) {
            __syncthreads();
            stage<T, A, TILE>(ks, k, p, a.sk, a.d, j0);
            stage<T, A, TILE>(vs, v, p, a.sk, a.dv, j0);
            __syncthreads();
            if (!valid) continue;
            u64 lim = key_limit(a, i);
            for (u64 jj = 0; jj < TILE && j0 + jj < lim; ++jj) {
                u64 j = j0 + jj;
                if (padded(a, mask, p, j)) continue;
                A s = row_dot(qi, ks + jj * TS_ATTN_MAX_D, a.d, l) * (A)a.scale;
                A m_new = s > m ? s : m;
                A r = exp(m - m_new), e = exp(s - m_new);
                sum = sum * r + e;
                A w = e * drop_factor<A>(a, p, i, j);
                for (u64 c = l.lane; c < a.dv; c += l.lanes) ai[c] = ai[c] * r + w * vs[jj * TS_ATTN_MAX_D + c];
                m = m_new;
            }
        }
        if (valid) {
            A inv = sum > (A)0 ? (A)1 / sum : (A)0;
            for (u64 c = l.lane; c < a.dv; c += l.lanes) out[(p * a.sq + i) * a.dv + c] = Elem<T>::store(ai[c] * inv);
            if (l.lane == 0) lse[p * a.sq + i] = sum > (A)0 ? m + log(sum) : -(A)TS_INF;
        }
    }
}

// dK and dV: a warp per key row j; query tiles staged in shared memory.
template <typename T, typename A, int TILE>
__device__ void attention_dkdv(AttnArgs a, const T* q, const T* k, const T* v, const u8* mask, const T* d_out,
                               const A* lse, const A* delta, T* dk, T* dv) {
    __shared__ A qs[TILE * TS_ATTN_MAX_D], dos[TILE * TS_ATTN_MAX_D];
    __shared__ A kj_s[4 * TS_ATTN_MAX_D], vj_s[4 * TS_ATTN_MAX_D], dk_s[4 * TS_ATTN_MAX_D], dv_s[4 * TS_ATTN_MAX_D];
    Lanes l;
    u64 chunks = (a.sk + l.warps - 1) / l.warps;
    for (u64 unit = blockIdx.x; unit < a.problems * chunks; unit += gridDim.x) {
        u64 p = unit / chunks, j = (unit % chunks) * l.warps + l.warp;
        bool valid = j < a.sk && !padded(a, mask, p, j < a.sk ? j : 0);
        A *kj = kj_s + l.warp * TS_ATTN_MAX_D, *vj = vj_s + l.warp * TS_ATTN_MAX_D;
        A *dkj = dk_s + l.warp * TS_ATTN_MAX_D, *dvj = dv_s + l.warp * TS_ATTN_MAX_D;
        if (j < a.sk) {
            for (u64 c = l.lane; c < a.d; c += l.lanes) kj[c] = Elem<T>::load(k[(p * a.sk + j) * a.d + c]), dkj[c] = 0;
            for (u64 c = l.lane; c < a.dv; c += l.lanes) vj[c] = Elem<T>::load(v[(p * a.sk + j) * a.dv + c]), dvj[c] = 0;
        }
        // Under a causal mask no query before the first that sees the block's first key sees any
        // of its keys: the query tiles start there.
        u64 j_first = (unit % chunks) * l.warps;
        u64 i_first = a.causal && j_first + a.sq > a.sk ? j_first + a.sq - a.sk : 0;
        for (u64 i0 = i_first; i0 < a.sq; i0 += TILE) {
            __syncthreads();
            stage<T, A, TILE>(qs, q, p, a.sq, a.d, i0);
            stage<T, A, TILE>(dos, d_out, p, a.sq, a.dv, i0);
            __syncthreads();
            if (!valid) continue;
            for (u64 ii = 0; ii < TILE && i0 + ii < a.sq; ++ii) {
                u64 i = i0 + ii;
                A li = lse[p * a.sq + i];
                if (j >= key_limit(a, i) || li == -(A)TS_INF) continue;
                const A *qi = qs + ii * TS_ATTN_MAX_D, *doi = dos + ii * TS_ATTN_MAX_D;
                A pw = exp(row_dot(qi, kj, a.d, l) * (A)a.scale - li);
                A keep = drop_factor<A>(a, p, i, j);
                A ds = pw * (row_dot(doi, vj, a.dv, l) * keep - delta[p * a.sq + i]);
                for (u64 c = l.lane; c < a.dv; c += l.lanes) dvj[c] += pw * keep * doi[c];
                for (u64 c = l.lane; c < a.d; c += l.lanes) dkj[c] += ds * (A)a.scale * qi[c];
            }
        }
        if (j < a.sk) {
            for (u64 c = l.lane; c < a.d; c += l.lanes) dk[(p * a.sk + j) * a.d + c] = Elem<T>::store(dkj[c]);
            for (u64 c = l.lane; c < a.dv; c += l.lanes) dv[(p * a.sk + j) * a.dv + c] = Elem<T>::store(dvj[c]);
        }
    }
}

// dQ: a warp per query row i; key tiles staged in shared memory.
template <typename T, typename A, int TILE>
__device__ void attention_dq(AttnArgs a, const T* q, const T* k, const T* v, const u8* mask, const T* d_out,
                             const A* lse, const A* delta, T* dq) {
    __shared__ A ks[TILE * TS_ATTN_MAX_D], vs[TILE * TS_ATTN_MAX_D];
    __shared__ A qi_s[4 * TS_ATTN_MAX_D], doi_s[4 * TS_ATTN_MAX_D], dq_s[4 * TS_ATTN_MAX_D];
    Lanes l;
    u64 chunks = (a.sq + l.warps - 1) / l.warps;
    for (u64 unit = blockIdx.x; unit < a.problems * chunks; unit += gridDim.x) {
        u64 p = unit / chunks, i0 = (unit % chunks) * l.warps, i = i0 + l.warp;
        bool valid = i < a.sq;
        A *qi = qi_s + l.warp * TS_ATTN_MAX_D, *doi = doi_s + l.warp * TS_ATTN_MAX_D, *dqi = dq_s + l.warp * TS_ATTN_MAX_D;
        A li = valid ? lse[p * a.sq + i] : (A)0, di = valid ? delta[p * a.sq + i] : (A)0;
        if (valid) {
            for (u64 c = l.lane; c < a.d; c += l.lanes) qi[c] = Elem<T>::load(q[(p * a.sq + i) * a.d + c]), dqi[c] = 0;
            for (u64 c = l.lane; c < a.dv; c += l.lanes) doi[c] = Elem<T>::load(d_out[(p * a.sq + i) * a.dv + c]);
        }
        u64 last = i0 + l.warps - 1 < a.sq ? i0 + l.warps - 1 : a.sq - 1;
        u64 block_limit = key_limit(a, last);
        for (u64 j0 = 0; j0 < block_limit; j0 += TILE) {
            __syncthreads();
            stage<T, A, TILE>(ks, k, p, a.sk, a.d, j0);
            stage<T, A, TILE>(vs, v, p, a.sk, a.dv, j0);
            __syncthreads();
            if (!valid || li == -(A)TS_INF) continue;
            u64 lim = key_limit(a, i);
            for (u64 jj = 0; jj < TILE && j0 + jj < lim; ++jj) {
                u64 j = j0 + jj;
                if (padded(a, mask, p, j)) continue;
                const A *kj = ks + jj * TS_ATTN_MAX_D, *vj = vs + jj * TS_ATTN_MAX_D;
                A pw = exp(row_dot(qi, kj, a.d, l) * (A)a.scale - li);
                A ds = pw * (row_dot(doi, vj, a.dv, l) * drop_factor<A>(a, p, i, j) - di);
                for (u64 c = l.lane; c < a.d; c += l.lanes) dqi[c] += ds * (A)a.scale * kj[c];
            }
        }
        if (valid) {
            for (u64 c = l.lane; c < a.d; c += l.lanes) dq[(p * a.sq + i) * a.d + c] = Elem<T>::store(dqi[c]);
        }
    }
}

#define TS_ATTN_ARGS                                                                                                  \
    u64 problems, u64 heads, u64 sq, u64 sk, u64 d, u64 dv, int causal, double scale, int has_mask, double drop_p,   \
        u64 seed, u64 first
#define TS_ATTN_PACK                                                                                                  \
    AttnArgs a;                                                                                                       \
    a.problems = problems; a.heads = heads; a.sq = sq; a.sk = sk; a.d = d; a.dv = dv; a.causal = causal;             \
    a.scale = scale; a.has_mask = has_mask; a.drop_p = drop_p; a.seed = seed; a.first = first

#define TS_ATTENTION(T, A, TILE, sfx)                                                                                 \
    extern "C" __global__ void attention_##sfx(TS_ATTN_ARGS, const T* __restrict__ q, const T* __restrict__ k,       \
                                               const T* __restrict__ v, const u8* __restrict__ mask,                 \
                                               T* __restrict__ out, A* __restrict__ lse) {                           \
        TS_ATTN_PACK;                                                                                                 \
        attention_forward<T, A, TILE>(a, q, k, v, mask, out, lse);                                                    \
    }                                                                                                                 \
    extern "C" __global__ void attention_delta_##sfx(u64 rows, u64 dv, const T* __restrict__ out,                     \
                                                     const T* __restrict__ d_out, A* __restrict__ delta) {           \
        TS_FOR_EACH(r, rows) {                                                                                        \
            A s = 0;                                                                                                  \
            for (u64 c = 0; c < dv; ++c) s += Elem<T>::load(out[r * dv + c]) * Elem<T>::load(d_out[r * dv + c]);     \
            delta[r] = s;                                                                                             \
        }                                                                                                             \
    }                                                                                                                 \
    extern "C" __global__ void attention_dkdv_##sfx(TS_ATTN_ARGS, const T* __restrict__ q, const T* __restrict__ k,  \
                                                    const T* __restrict__ v, const u8* __restrict__ mask,            \
                                                    const T* __restrict__ d_out, const A* __restrict__ lse,          \
                                                    const A* __restrict__ delta, T* __restrict__ dk,                 \
                                                    T* __restrict__ dv_out) {                                         \
        TS_ATTN_PACK;                                                                                                 \
        attention_dkdv<T, A, TILE>(a, q, k, v, mask, d_out, lse, delta, dk, dv_out);                                  \
    }                                                                                                                 \
    extern "C" __global__ void attention_dq_##sfx(TS_ATTN_ARGS, const T* __restrict__ q, const T* __restrict__ k,    \
                                                  const T* __restrict__ v, const u8* __restrict__ mask,              \
                                                  const T* __restrict__ d_out, const A* __restrict__ lse,            \
                                                  const A* __restrict__ delta, T* __restrict__ dq) {                 \
        TS_ATTN_PACK;                                                                                                 \
        attention_dq<T, A, TILE>(a, q, k, v, mask, d_out, lse, delta, dq);                                            \
    }

TS_ATTENTION(float, float, 32, f32)
TS_ATTENTION(double, double, 8, f64)
TS_ATTENTION(f16, float, 32, f16)
TS_ATTENTION(bf16, float, 32, bf16)
