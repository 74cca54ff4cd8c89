//! Fused optimizer updates on the device (`kernels/optim.cu`): one launch per parameter tensor,
//! in place, with the formulas of [`crate::cpu::optim_step`].

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, Args};
use super::source::OPTIM;
use crate::ops::Update;
use crate::plan::{MasterOptimPlan, OptimPlan};
use crate::Result;

/// Applies the plan's step to the parameter `p` in place, reading its gradient `g` (times the
/// plan's `grad_scale`) and updating the state buffers `s`, as [`crate::cpu::optim_step`]: one
/// launch.
pub fn optim_step(plan: &OptimPlan, p: &mut CudaBuffer, g: &CudaBuffer, s: &mut [&mut CudaBuffer]) -> Result<()> {
    let n = plan.len;
    expect_dtype(
        plan.step.name(),
        plan.dtype,
        &[&*p, g].into_iter().chain(s.iter().map(|s| &**s)).collect::<Vec<_>>(),
    )?;
    if n == 0 {
        return Ok(());
    }
    let (kernel, args) = update_args(plan, Args::new().u64(n as u64).buf(p).buf(g), s);
    let dev = p.device().clone();
    launch(&dev, &OPTIM, &format!("{kernel}_{}", plan.dtype.as_str()), elementwise(n), args)
}

/// The step of a half-precision parameter `p` kept as the f32 master `w`, as
/// [`crate::cpu::optim_step_master`]: the master's update and its rounding into `p` in one
/// launch.
pub fn optim_step_master(
    plan: &MasterOptimPlan,
    w: &mut CudaBuffer,
    g: &CudaBuffer,
    s: &mut [&mut CudaBuffer],
    p: &mut CudaBuffer,
) -> Result<()> {
    let (update, n) = (&plan.update, plan.update.len);
    let op = update.step.name();
    let updated: Vec<&CudaBuffer> = [&*w, g].into_iter().chain(s.iter().map(|s| &**s)).collect();
    expect_dtype(op, update.dtype, &updated)?;
    expect_dtype(op, plan.half, &[&*p])?;
    if n == 0 {
        return Ok(());
    }
    let (kernel, args) = update_args(update, Args::new().u64(n as u64).buf(w).buf(g), s);
    let dev = w.device().clone();
    let args = args.buf(p);
    launch(&dev, &OPTIM, &format!("{kernel}_master_{}", plan.half.as_str()), elementwise(n), args)
}

/// The kernel's name (without its dtype) and its arguments: `args` (length, updated buffer,
/// gradient), then the state buffers, the update's constants and the gradient's scale.
fn update_args(plan: &OptimPlan, mut args: Args, state: &[&mut CudaBuffer]) -> (&'static str, Args) {
    for s in state.iter() {
        args = args.buf(s);
    }
    let (kernel, args) = match plan.step.update() {
        Update::Sgd { lr, wd } => ("optim_sgd", args.f64(lr).f64(wd)),
        Update::SgdMomentum { lr, momentum, damp, wd, nesterov, first_step } => (
            "optim_sgd_momentum",
            args.f64(lr).f64(momentum).f64(damp).f64(wd).i32(nesterov as i32).i32(first_step as i32),
        ),
        Update::Adam { b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, l2, shrink } => {
            let args = args.f64(b1).f64(b2).f64(one_b1).f64(one_b2).f64(step_size).f64(inv_bc2_sqrt);
            ("optim_adam", args.f64(eps).f64(l2).f64(shrink))
        }
        Update::RmsProp { lr, a, one_a, eps, wd, momentum } => {
            let args = args.f64(lr).f64(a).f64(one_a).f64(eps).f64(wd);
            match momentum {
                None => ("optim_rmsprop", args),
                Some(m) => ("optim_rmsprop_momentum", args.f64(m)),
            }
        }
    };
    (kernel, args.f64(plan.grad_scale))
}
