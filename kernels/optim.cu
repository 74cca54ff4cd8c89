// Fused optimizer updates (ops/optim.rs; cpu/optim.rs is the reference): one pass over the
// parameter, its gradient and the state buffers, in place, one thread per element. The host
// turns the optimizer's hyperparameters into the per-step constants below (in f64); the kernels
// compute in the parameter's dtype, in the CPU reference's order of operations.
// Kernels, for T in f32 and f64:
//   optim_sgd_<T>(n, p, g, lr, wd)
//   optim_sgd_momentum_<T>(n, p, g, buf, lr, momentum, 1 - dampening, wd, nesterov, first_step)
//   optim_adam_<T>(n, p, g, m, v, beta1, beta2, 1 - beta1, 1 - beta2, lr / bc1, 1 / sqrt(bc2), eps,
//                  l2, shrink)
//   optim_rmsprop_<T>(n, p, g, v, lr, alpha, 1 - alpha, eps, wd)
//   optim_rmsprop_momentum_<T>(n, p, g, v, buf, lr, alpha, 1 - alpha, eps, wd, momentum)
// and for a half-precision parameter H (f16, bf16) with an f32 master copy and f32 state, the
// same updates of the master `w` from the f32 gradient `g` times `gscale`, rounding the new
// master into the parameter `p`, in the same one launch:
//   optim_<update>_master_<H>(n, w, g, <state...>, <constants...>, gscale, p)
#include "common.cuh"

// The updates, one element each: the new parameter from the old one, its gradient and state.
template <typename T> __device__ __forceinline__ T sgd_update(T p, T g, T lr, T wd) { return p - lr * (g + wd * p); }

template <typename T>
__device__ __forceinline__ T sgd_momentum_update(T p, T g, T* buf, T lr, T mom, T damp, T wd, int nesterov, int first) {
    T gi = g + wd * p;
    T b = first ? gi : mom * *buf + damp * gi;
    *buf = b;
    T d = nesterov ? gi + mom * b : b;
    return p - lr * d;
}

template <typename T>
__device__ __forceinline__ T adam_update(T p, T g, T* m, T* v, T b1, T b2, T one_b1, T one_b2, T step_size,
                                         T inv_bc2_sqrt, T eps, T l2, T shrink) {
    T gi = g + l2 * p;
    T mi = b1 * *m + one_b1 * gi;
    T vi = b2 * *v + one_b2 * gi * gi;
    *m = mi;
    *v = vi;
    T denom = sqrt(vi) * inv_bc2_sqrt + eps;
    return p * shrink - step_size * mi / denom;
}

template <typename T>
__device__ __forceinline__ T rmsprop_update(T p, T g, T* v, T lr, T a, T one_a, T eps, T wd) {
    T gi = g + wd * p;
    T vi = a * *v + one_a * gi * gi;
    *v = vi;
    return p - lr * (gi / (sqrt(vi) + eps));
}

template <typename T>
__device__ __forceinline__ T rmsprop_momentum_update(T p, T g, T* v, T* buf, T lr, T a, T one_a, T eps, T wd, T mom) {
    T gi = g + wd * p;
    T vi = a * *v + one_a * gi * gi;
    *v = vi;
    T b = mom * *buf + gi / (sqrt(vi) + eps);
    *buf = b;
    return p - lr * b;
}

// One kernel per update, given as: the kernel's name, the parameter's type, its state pointers,
// its host constants, their conversions to the arithmetic's type `T`, the update's call. Both
// kinds read the gradient times `gscale_` (loss unscaling, clipping). `TS_OPTIM_PLAIN` updates
// `p` in place; `TS_OPTIM_MASTER` updates the f32 master `w` and rounds it into the half
// parameter `p`.
#define TS_OPTIM_PLAIN(name, sfx, P, STATE, ARGS, CONSTS, CALL) \
    extern "C" __global__ void name##_##sfx(u64 n, P* __restrict__ p, const P* __restrict__ g STATE, ARGS, \
                                            double gscale_) { \
        typedef P T; \
        CONSTS \
        T gscale = (T)gscale_; \
        TS_FOR_EACH(i, n) { \
            T gi = g[i] * gscale; \
            p[i] = CALL; \
        } \
    }
#define TS_OPTIM_MASTER(name, sfx, H, STATE, ARGS, CONSTS, CALL) \
    extern "C" __global__ void name##_master_##sfx(u64 n, float* __restrict__ w, const float* __restrict__ g STATE, \
                                                   ARGS, double gscale_, H* __restrict__ p) { \
        typedef float T; \
        CONSTS \
        float gscale = (float)gscale_; \
        TS_FOR_EACH(i, n) { \
            float gi = g[i] * gscale; \
            float updated = CALL; \
            w[i] = updated; \
            p[i] = Elem<H>::store(updated); \
        } \
    }
#define TS_COMMA ,

// The five updates for one kind of kernel (`KIND`: PLAIN or MASTER) and element type `E`; `S` is
// the type of the state (T for plain kernels, f32 for master ones), `W` the updated array.
#define TS_OPTIM_ALL(KIND, sfx, E, S, W) \
    TS_OPTIM_##KIND(optim_sgd, sfx, E, , double lr_ TS_COMMA double wd_, T lr = (T)lr_; T wd = (T)wd_;, \
                    sgd_update<T>(W[i], gi, lr, wd)) \
    TS_OPTIM_##KIND(optim_sgd_momentum, sfx, E, TS_COMMA S* __restrict__ buf, \
                    double lr_ TS_COMMA double mom_ TS_COMMA double damp_ TS_COMMA double wd_ TS_COMMA \
                        int nesterov TS_COMMA int first, \
                    T lr = (T)lr_; T mom = (T)mom_; T damp = (T)damp_; T wd = (T)wd_;, \
                    sgd_momentum_update<T>(W[i], gi, &buf[i], lr, mom, damp, wd, nesterov, first)) \
    TS_OPTIM_##KIND(optim_adam, sfx, E, TS_COMMA S* __restrict__ m TS_COMMA S* __restrict__ v, \
                    double b1_ TS_COMMA double b2_ TS_COMMA double one_b1_ TS_COMMA double one_b2_ TS_COMMA \
                        double step_size_ TS_COMMA double inv_bc2_sqrt_ TS_COMMA double eps_ TS_COMMA \
                            double l2_ TS_COMMA double shrink_, \
                    T b1 = (T)b1_; T b2 = (T)b2_; T one_b1 = (T)one_b1_; T one_b2 = (T)one_b2_; \
                    T step_size = (T)step_size_; T inv_bc2_sqrt = (T)inv_bc2_sqrt_; T eps = (T)eps_; \
                    T l2 = (T)l2_; T shrink = (T)shrink_;, \
                    adam_update<T>(W[i], gi, &m[i], &v[i], b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, \
                                   l2, shrink)) \
    TS_OPTIM_##KIND(optim_rmsprop, sfx, E, TS_COMMA S* __restrict__ v, \
                    double lr_ TS_COMMA double a_ TS_COMMA double one_a_ TS_COMMA double eps_ TS_COMMA double wd_, \
                    T lr = (T)lr_; T a = (T)a_; T one_a = (T)one_a_; T eps = (T)eps_; T wd = (T)wd_;, \
                    rmsprop_update<T>(W[i], gi, &v[i], lr, a, one_a, eps, wd)) \
    TS_OPTIM_##KIND(optim_rmsprop_momentum, sfx, E, TS_COMMA S* __restrict__ v TS_COMMA S* __restrict__ buf, \
                    double lr_ TS_COMMA double a_ TS_COMMA double one_a_ TS_COMMA double eps_ TS_COMMA \
                        double wd_ TS_COMMA double mom_, \
                    T lr = (T)lr_; T a = (T)a_; T one_a = (T)one_a_; T eps = (T)eps_; T wd = (T)wd_; \
                    T mom = (T)mom_;, \
                    rmsprop_momentum_update<T>(W[i], gi, &v[i], &buf[i], lr, a, one_a, eps, wd, mom))

TS_OPTIM_ALL(PLAIN, f32, float, float, p)
TS_OPTIM_ALL(PLAIN, f64, double, double, p)
TS_OPTIM_ALL(MASTER, f16, f16, float, w)
TS_OPTIM_ALL(MASTER, bf16, bf16, float, w)
