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
#include "common.cuh"

#define TS_OPTIM(T, sfx) \
    extern "C" __global__ void optim_sgd_##sfx(u64 n, T* __restrict__ p, const T* __restrict__ g, double lr_, \
                                                double wd_) { \
        T lr = (T)lr_, wd = (T)wd_; \
        TS_FOR_EACH(i, n) p[i] = p[i] - lr * (g[i] + wd * p[i]); \
    } \
    extern "C" __global__ void optim_sgd_momentum_##sfx(u64 n, T* __restrict__ p, const T* __restrict__ g, \
                                                         T* __restrict__ buf, double lr_, double mom_, \
                                                         double damp_, double wd_, int nesterov, int first) { \
        T lr = (T)lr_, mom = (T)mom_, damp = (T)damp_, wd = (T)wd_; \
        TS_FOR_EACH(i, n) { \
            T gi = g[i] + wd * p[i]; \
            T b = first ? gi : mom * buf[i] + damp * gi; \
            buf[i] = b; \
            T d = nesterov ? gi + mom * b : b; \
            p[i] = p[i] - lr * d; \
        } \
    } \
    extern "C" __global__ void optim_adam_##sfx(u64 n, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, \
                                                 T* __restrict__ v, double b1_, double b2_, double one_b1_, \
                                                 double one_b2_, double step_size_, double inv_bc2_sqrt_, \
                                                 double eps_, double l2_, double shrink_) { \
        T b1 = (T)b1_, b2 = (T)b2_, one_b1 = (T)one_b1_, one_b2 = (T)one_b2_, step_size = (T)step_size_; \
        T inv_bc2_sqrt = (T)inv_bc2_sqrt_, eps = (T)eps_, l2 = (T)l2_, shrink = (T)shrink_; \
        TS_FOR_EACH(i, n) { \
            T gi = g[i] + l2 * p[i]; \
            T mi = b1 * m[i] + one_b1 * gi; \
            T vi = b2 * v[i] + one_b2 * gi * gi; \
            m[i] = mi; \
            v[i] = vi; \
            T denom = sqrt(vi) * inv_bc2_sqrt + eps; \
            p[i] = p[i] * shrink - step_size * mi / denom; \
        } \
    } \
    extern "C" __global__ void optim_rmsprop_##sfx(u64 n, T* __restrict__ p, const T* __restrict__ g, \
                                                    T* __restrict__ v, double lr_, double a_, double one_a_, \
                                                    double eps_, double wd_) { \
        T lr = (T)lr_, a = (T)a_, one_a = (T)one_a_, eps = (T)eps_, wd = (T)wd_; \
        TS_FOR_EACH(i, n) { \
            T gi = g[i] + wd * p[i]; \
            T vi = a * v[i] + one_a * gi * gi; \
            v[i] = vi; \
            p[i] = p[i] - lr * (gi / (sqrt(vi) + eps)); \
        } \
    } \
    extern "C" __global__ void optim_rmsprop_momentum_##sfx(u64 n, T* __restrict__ p, const T* __restrict__ g, \
                                                             T* __restrict__ v, T* __restrict__ buf, double lr_, \
                                                             double a_, double one_a_, double eps_, double wd_, \
                                                             double mom_) { \
        T lr = (T)lr_, a = (T)a_, one_a = (T)one_a_, eps = (T)eps_, wd = (T)wd_, mom = (T)mom_; \
        TS_FOR_EACH(i, n) { \
            T gi = g[i] + wd * p[i]; \
            T vi = a * v[i] + one_a * gi * gi; \
            v[i] = vi; \
            T b = mom * buf[i] + gi / (sqrt(vi) + eps); \
            buf[i] = b; \
            p[i] = p[i] - lr * b; \
        } \
    }
TS_OPTIM(float, f32)
TS_OPTIM(double, f64)
