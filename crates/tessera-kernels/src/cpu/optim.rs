//! Fused optimizer updates: one pass over parameter, gradient and state, in place.

use super::buffer::{expect_dtype, CpuBuffer};
use super::half::Half;
use super::par;
use super::simd::multiversion;
use super::unary::FloatMath;
use crate::ops::{OptimStep, Update};
use crate::plan::{MasterOptimPlan, OptimPlan};
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16};

/// Applies the plan's step to the parameter `p` in place, reading its gradient `g` (times the
/// plan's `grad_scale`) and updating the state buffers `s` (as many as
/// [`OptimStep::state_count`], each the parameter's length).
pub fn optim_step(plan: &OptimPlan, p: &mut CpuBuffer, g: &CpuBuffer, s: &mut [&mut CpuBuffer]) -> Result<()> {
    expect_dtype(
        plan.step.name(),
        plan.dtype,
        &[&*p, g].into_iter().chain(s.iter().map(|s| &**s)).collect::<Vec<_>>(),
    )?;
    let state = s;
    match (p, g) {
        (CpuBuffer::F32(p), CpuBuffer::F32(g)) => {
            let mut s: Vec<&mut [f32]> = state.iter_mut().map(|b| b.as_mut_slice().expect("dtype checked")).collect();
            apply(plan, p, g, &mut s);
        }
        (CpuBuffer::F64(p), CpuBuffer::F64(g)) => {
            let mut s: Vec<&mut [f64]> = state.iter_mut().map(|b| b.as_mut_slice().expect("dtype checked")).collect();
            apply(plan, p, g, &mut s);
        }
        _ => unreachable!("the plan admits f32 and f64"),
    }
    Ok(())
}

/// The step of a half-precision parameter `p` kept as the f32 master `w` (see
/// [`MasterOptimPlan`]): `w` updated from the f32 gradient `g` times the update's gradient scale,
/// with the f32 state `s`; then `p` becomes `w` rounded.
pub fn optim_step_master(
    plan: &MasterOptimPlan,
    w: &mut CpuBuffer,
    g: &CpuBuffer,
    s: &mut [&mut CpuBuffer],
    p: &mut CpuBuffer,
) -> Result<()> {
    expect_dtype(plan.update.step.name(), plan.half, &[&*p])?;
    optim_step(&plan.update, w, g, s)?;
    let master = w.as_slice::<f32>().expect("an f32 master, checked by the update");
    match p {
        CpuBuffer::F16(p) => p.copy_from_slice(&f16::narrow(master)),
        CpuBuffer::BF16(p) => p.copy_from_slice(&bf16::narrow(master)),
        _ => unreachable!("the plan admits f16 and bf16"),
    }
    Ok(())
}

/// An update reads and writes three or four arrays and takes a square root and a division per
/// element: splitting it across threads pays from a quarter of the elements a copy needs.
const UPDATE_COST: usize = 4;

/// [`update`] over the whole parameter, on several threads when it is large: the elements are
/// independent, so each thread updates its own chunk of parameter, gradient and state.
pub(super) fn apply<T: FloatMath + Send + Sync>(plan: &OptimPlan, p: &mut [T], g: &[T], state: &mut [&mut [T]]) {
    let (step, k) = (&plan.step, T::from_f64(plan.grad_scale));
    if !par::worth_parallel_costly(p.len(), UPDATE_COST) {
        return update(step, k, p, g, state);
    }
    let chunk = par::chunk_len_costly(p.len(), 16, UPDATE_COST);
    let mut chunk_states: Vec<Vec<&mut [T]>> = (0..p.len().div_ceil(chunk)).map(|_| Vec::new()).collect();
    for s in state.iter_mut() {
        for (i, c) in s.chunks_mut(chunk).enumerate() {
            chunk_states[i].push(c);
        }
    }
    p.par_chunks_mut(chunk)
        .zip(g.par_chunks(chunk))
        .zip(chunk_states.into_par_iter())
        .for_each(|((p, g), mut s)| update(step, k, p, g, &mut s));
}

multiversion! {
    /// The step on `p` with its gradient `g` times `k` and state, element by element.
    fn update<T>(step: &OptimStep, k: T, p: &mut [T], g: &[T], state: &mut [&mut [T]]) where T: FloatMath
    {
        let c = T::from_f64;
        match step.update() {
            Update::Sgd { lr, wd } => {
                let (lr, wd) = (c(lr), c(wd));
                for (p, &g) in p.iter_mut().zip(g) {
                    *p = *p - lr * (k * g + wd * *p);
                }
            }
            Update::SgdMomentum { lr, momentum, damp, wd, nesterov, first_step } => {
                let (lr, mom, damp, wd) = (c(lr), c(momentum), c(damp), c(wd));
                let [buf] = state else { unreachable!("state count checked") };
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let g = k * g + wd * *p;
                    *b = if first_step { g } else { mom * *b + damp * g };
                    let d = if nesterov { g + mom * *b } else { *b };
                    *p = *p - lr * d;
                }
            }
            Update::Adam { b1, b2, one_b1, one_b2, step_size, inv_bc2_sqrt, eps, l2, shrink } => {
                let (b1, b2, one_b1, one_b2) = (c(b1), c(b2), c(one_b1), c(one_b2));
                let (step_size, inv_bc2_sqrt, eps, l2, shrink) = (c(step_size), c(inv_bc2_sqrt), c(eps), c(l2), c(shrink));
                let [m, v] = state else { unreachable!("state count checked") };
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = k * g + l2 * *p;
                    *m = b1 * *m + one_b1 * g;
                    *v = b2 * *v + one_b2 * g * g;
                    let denom = v.sqrt() * inv_bc2_sqrt + eps;
                    *p = *p * shrink - step_size * *m / denom;
                }
            }
            Update::RmsProp { lr, a, one_a, eps, wd, momentum } => {
                let (lr, a, one_a, eps, wd) = (c(lr), c(a), c(one_a), c(eps), c(wd));
                let (v, mut buf) = match state {
                    [v] => (v, None),
                    [v, b] => (v, Some(b)),
                    _ => unreachable!("state count checked"),
                };
                let mom = c(momentum.unwrap_or(0.0));
                for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                    let g = k * g + wd * *p;
                    v[i] = a * v[i] + one_a * g * g;
                    let scaled = g / (v[i].sqrt() + eps);
                    match buf.as_mut() {
                        Some(b) => {
                            b[i] = mom * b[i] + scaled;
                            *p = *p - lr * b[i];
                        }
                        None => *p = *p - lr * scaled,
                    }
                }
            }
        }
    }
}
