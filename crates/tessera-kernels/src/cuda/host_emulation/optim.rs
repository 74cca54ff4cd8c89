//! Host emulation of `kernels/optim.cu`: every optimizer update against the CPU's, from the same
//! parameters, gradients and state.

use super::{data, launch, module, ptr, ptr_mut, sym};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::elementwise;
use crate::ops::{OptimStep, Update};
use crate::plan::{MasterOptimPlan, OptimPlan};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

/// Runs `step`'s kernel on copies of `param` and `state` with its host-side arguments, the
/// gradient read times `gscale`.
fn run_kernel(
    lib: &libloading::Library,
    step: &OptimStep,
    dtype: DType,
    (param, grad): (&mut CpuBuffer, &CpuBuffer),
    state: &mut [CpuBuffer],
    gscale: f64,
) {
    let n = param.len() as u64;
    let (p, g) = (ptr_mut(param), ptr(grad));
    let s: Vec<*mut c_void> = state.iter_mut().map(ptr_mut).collect();
    let sfx = dtype.as_str();
    let name = |u: &str| format!("{u}_{sfx}");
    type P = *mut c_void;
    type G = *const c_void;
    // SAFETY: every buffer holds `n` elements of `dtype`; each signature is the kernel's.
    launch(lib, elementwise(n as usize), || unsafe {
        match step.update() {
            Update::Sgd { lr, wd } => {
                let f: unsafe extern "C" fn(u64, P, G, f64, f64, f64) = sym(lib, &name("optim_sgd"));
                f(n, p, g, lr, wd, gscale)
            }
            Update::SgdMomentum { lr, momentum, damp, wd, nesterov, first_step } => {
                type F = unsafe extern "C" fn(u64, P, G, P, f64, f64, f64, f64, i32, i32, f64);
                let f: F = sym(lib, &name("optim_sgd_momentum"));
                f(n, p, g, s[0], lr, momentum, damp, wd, nesterov as i32, first_step as i32, gscale)
            }
            Update::Adam { b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, l2, shrink } => {
                type F = unsafe extern "C" fn(u64, P, G, P, P, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64);
                let f: F = sym(lib, &name("optim_adam"));
                f(n, p, g, s[0], s[1], b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, l2, shrink, gscale)
            }
            Update::RmsProp { lr, a, one_a, eps, wd, momentum: None } => {
                type F = unsafe extern "C" fn(u64, P, G, P, f64, f64, f64, f64, f64, f64);
                let f: F = sym(lib, &name("optim_rmsprop"));
                f(n, p, g, s[0], lr, a, one_a, eps, wd, gscale)
            }
            Update::RmsProp { lr, a, one_a, eps, wd, momentum: Some(m) } => {
                type F = unsafe extern "C" fn(u64, P, G, P, P, f64, f64, f64, f64, f64, f64, f64);
                let f: F = sym(lib, &name("optim_rmsprop_momentum"));
                f(n, p, g, s[0], s[1], lr, a, one_a, eps, wd, m, gscale)
            }
        }
    });
}

/// One step of every kind and variant: plain and momentum SGD (first step and later, Nesterov),
/// Adam with L2 and decoupled decay, RMSprop with and without momentum.
fn steps() -> [OptimStep; 7] {
    [
        OptimStep::Sgd {
            lr: 0.1,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.01,
            nesterov: false,
            first_step: false,
        },
        OptimStep::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 0.01,
            nesterov: false,
            first_step: true,
        },
        OptimStep::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.0, weight_decay: 0.0, nesterov: true, first_step: false },
        OptimStep::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            decoupled: false,
            step: 3,
        },
        OptimStep::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decoupled: true, step: 1 },
        OptimStep::RmsProp { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0 },
        OptimStep::RmsProp { lr: 1e-2, alpha: 0.9, eps: 1e-6, weight_decay: 0.05, momentum: 0.5 },
    ]
}

#[test]
fn host_optim_kernels_match_cpu() {
    let Some(lib) = module("optim") else { return };
    let steps = steps();
    // The gradient read as it is, and scaled down as clipping would (the kernel multiplies it).
    for (dtype, gscale) in [(DType::F32, 1.0), (DType::F64, 1.0), (DType::F32, 0.3), (DType::F64, 0.3)] {
        for step in steps {
            let n = 37;
            let grad = data(dtype, n, 41, -1.0, 1.0);
            let mut want_p = data(dtype, n, 42, -2.0, 2.0);
            let state: Vec<CpuBuffer> =
                (0..step.state_count()).map(|k| data(dtype, n, 43 + k as u64, 0.0, 1.0)).collect();
            let (mut got_p, mut got_s) = (want_p.clone(), state.clone());
            let mut want_s = state;
            let plan = OptimPlan::new(step, (dtype, n), (dtype, n), &vec![(dtype, n); step.state_count()])
                .unwrap()
                .with_grad_scale(gscale);
            cpu::optim_step(&plan, &mut want_p, &grad, &mut want_s.iter_mut().collect::<Vec<_>>()).unwrap();
            run_kernel(lib, &step, dtype, (&mut got_p, &grad), &mut got_s, gscale);
            let l = Layout::contiguous(Shape::new(vec![n]));
            for (what, got, want) in std::iter::once(("param", &got_p, &want_p))
                .chain(got_s.iter().zip(&want_s).map(|(g, w)| ("state", g, w)))
            {
                for (i, (g, w)) in got.to_f64_vec(&l).iter().zip(want.to_f64_vec(&l)).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-6 * w.abs().max(1e-6),
                        "{} {dtype} x{gscale} {what}[{i}]: kernel {g}, cpu {w}",
                        step.name()
                    );
                }
            }
        }
    }
}

/// Runs `step`'s master kernel for the half dtype `half` on copies: the f32 master `w`, its f32
/// gradient `g` and `state`, and the parameter `p` (of `half`) it rounds into.
fn run_master_kernel(
    lib: &libloading::Library,
    step: &OptimStep,
    half: DType,
    (w, g, p): (&mut CpuBuffer, &CpuBuffer, &mut CpuBuffer),
    state: &mut [CpuBuffer],
    gscale: f64,
) {
    let n = w.len() as u64;
    let (wp, gp, pp) = (ptr_mut(w), ptr(g), ptr_mut(p));
    let s: Vec<*mut c_void> = state.iter_mut().map(ptr_mut).collect();
    let name = |u: &str| format!("{u}_master_{}", half.as_str());
    type P = *mut c_void;
    type G = *const c_void;
    // SAFETY: every buffer holds `n` elements (f32 master, gradient and state, a `half`
    // parameter); each signature is the kernel's.
    launch(lib, elementwise(n as usize), || unsafe {
        match step.update() {
            Update::Sgd { lr, wd } => {
                let f: unsafe extern "C" fn(u64, P, G, f64, f64, f64, P) = sym(lib, &name("optim_sgd"));
                f(n, wp, gp, lr, wd, gscale, pp)
            }
            Update::SgdMomentum { lr, momentum, damp, wd, nesterov, first_step } => {
                type F = unsafe extern "C" fn(u64, P, G, P, f64, f64, f64, f64, i32, i32, f64, P);
                let f: F = sym(lib, &name("optim_sgd_momentum"));
                f(n, wp, gp, s[0], lr, momentum, damp, wd, nesterov as i32, first_step as i32, gscale, pp)
            }
            Update::Adam { b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, l2, shrink } => {
                type F = unsafe extern "C" fn(u64, P, G, P, P, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, P);
                let f: F = sym(lib, &name("optim_adam"));
                f(n, wp, gp, s[0], s[1], b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, l2, shrink, gscale, pp)
            }
            Update::RmsProp { lr, a, one_a, eps, wd, momentum: None } => {
                type F = unsafe extern "C" fn(u64, P, G, P, f64, f64, f64, f64, f64, f64, P);
                let f: F = sym(lib, &name("optim_rmsprop"));
                f(n, wp, gp, s[0], lr, a, one_a, eps, wd, gscale, pp)
            }
            Update::RmsProp { lr, a, one_a, eps, wd, momentum: Some(mom) } => {
                type F = unsafe extern "C" fn(u64, P, G, P, P, f64, f64, f64, f64, f64, f64, f64, P);
                let f: F = sym(lib, &name("optim_rmsprop_momentum"));
                f(n, wp, gp, s[0], s[1], lr, a, one_a, eps, wd, mom, gscale, pp)
            }
        }
    });
}

#[test]
fn host_master_kernels_match_cpu() {
    let Some(lib) = module("optim") else { return };
    let steps = steps();
    let n = 37;
    let l = Layout::contiguous(Shape::new(vec![n]));
    for half in [DType::F16, DType::BF16] {
        for step in steps {
            // A gradient scaled up by 1024, as loss scaling leaves it, unscaled inside the kernel.
            let grad = data(DType::F32, n, 41, -1024.0, 1024.0);
            let master = data(DType::F32, n, 42, -2.0, 2.0);
            let param = cpu::cast(&master, &l, half);
            let state: Vec<CpuBuffer> =
                (0..step.state_count()).map(|k| data(DType::F32, n, 43 + k as u64, 0.0, 1.0)).collect();
            let f32s = vec![(DType::F32, n); state.len()];
            let plan =
                MasterOptimPlan::new(step, (DType::F32, n), (DType::F32, n), &f32s, (half, n), 1.0 / 1024.0).unwrap();
            let (mut want_w, mut want_p, mut want_s) = (master.clone(), param.clone(), state.clone());
            let mut refs: Vec<&mut CpuBuffer> = want_s.iter_mut().collect();
            cpu::optim_step_master(&plan, &mut want_w, &grad, &mut refs, &mut want_p).unwrap();
            let (mut got_w, mut got_p, mut got_s) = (master, param, state);
            run_master_kernel(lib, &step, half, (&mut got_w, &grad, &mut got_p), &mut got_s, 1.0 / 1024.0);
            // The parameter is exactly the kernel's own master rounded, as the CPU's is its own.
            assert_eq!(got_p.to_f64_vec(&l), cpu::cast(&got_w, &l, half).to_f64_vec(&l), "{} {half}", step.name());
            assert_eq!(want_p.to_f64_vec(&l), cpu::cast(&want_w, &l, half).to_f64_vec(&l));
            let pairs = std::iter::once(("master", &got_w, &want_w));
            for (what, got, want) in pairs.chain(got_s.iter().zip(&want_s).map(|(g, w)| ("state", g, w))) {
                for (i, (g, w)) in got.to_f64_vec(&l).iter().zip(want.to_f64_vec(&l)).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-6 * w.abs().max(1e-6),
                        "{} {half} {what}[{i}]: kernel {g}, cpu {w}",
                        step.name()
                    );
                }
            }
        }
    }
}
