//! Fused optimizer updates: one pass over parameter, gradient and state, in place.

use super::buffer::CpuBuffer;
use super::unary::FloatMath;
use crate::ops::OptimStep;
use crate::Result;
use tessera_core::Error;

/// Applies `step` to `param` in place, reading `grad` and updating `state` (as many buffers as
/// [`OptimStep::state_count`]); all must be contiguous, of one float dtype (f32 or f64) and one
/// length.
pub fn optim_step(
    step: &OptimStep,
    param: &mut CpuBuffer,
    grad: &CpuBuffer,
    state: &mut [&mut CpuBuffer],
) -> Result<()> {
    let op = step.name();
    if state.len() != step.state_count() {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("{} state buffers given, {} expected", state.len(), step.state_count()),
        }
        .into());
    }
    for b in std::iter::once(grad).chain(state.iter().map(|s| &**s)) {
        if b.dtype() != param.dtype() {
            return Err(Error::DTypeMismatch { op, lhs: param.dtype(), rhs: b.dtype() }.into());
        }
        if b.len() != param.len() {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("buffers of {} and {} elements", param.len(), b.len()),
            }
            .into());
        }
    }
    match (param, grad) {
        (CpuBuffer::F32(p), CpuBuffer::F32(g)) => {
            let mut s: Vec<&mut [f32]> = state.iter_mut().map(|b| b.as_mut_slice().expect("dtype checked")).collect();
            apply(step, p, g, &mut s);
        }
        (CpuBuffer::F64(p), CpuBuffer::F64(g)) => {
            let mut s: Vec<&mut [f64]> = state.iter_mut().map(|b| b.as_mut_slice().expect("dtype checked")).collect();
            apply(step, p, g, &mut s);
        }
        (p, _) => {
            return Err(Error::UnsupportedDType {
                op,
                dtype: p.dtype(),
                hint: " (optimizers update f32 or f64 parameters)",
            }
            .into())
        }
    }
    Ok(())
}

fn apply<T: FloatMath>(step: &OptimStep, p: &mut [T], g: &[T], state: &mut [&mut [T]]) {
    let c = T::from_f64;
    match *step {
        OptimStep::Sgd { lr, momentum, dampening, weight_decay, nesterov, first_step } => {
            let (lr, mom, damp, wd) = (c(lr), c(momentum), c(1.0 - dampening), c(weight_decay));
            if let [buf] = state {
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let g = g + wd * *p;
                    *b = if first_step { g } else { mom * *b + damp * g };
                    let d = if nesterov { g + mom * *b } else { *b };
                    *p = *p - lr * d;
                }
            } else {
                for (p, &g) in p.iter_mut().zip(g) {
                    *p = *p - lr * (g + wd * *p);
                }
            }
        }
        OptimStep::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step } => {
            let bc1 = 1.0 - beta1.powi(step as i32);
            let bc2_sqrt = (1.0 - beta2.powi(step as i32)).sqrt();
            let (b1, b2, one_b1, one_b2) = (c(beta1), c(beta2), c(1.0 - beta1), c(1.0 - beta2));
            let (step_size, inv_bc2_sqrt, eps) = (c(lr / bc1), c(1.0 / bc2_sqrt), c(eps));
            let (l2, shrink) = if decoupled { (c(0.0), c(1.0 - lr * weight_decay)) } else { (c(weight_decay), c(1.0)) };
            let [m, v] = state else { unreachable!("state count checked") };
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let g = g + l2 * *p;
                *m = b1 * *m + one_b1 * g;
                *v = b2 * *v + one_b2 * g * g;
                let denom = v.sqrt() * inv_bc2_sqrt + eps;
                *p = *p * shrink - step_size * *m / denom;
            }
        }
        OptimStep::RmsProp { lr, alpha, eps, weight_decay, momentum } => {
            let (lr, a, one_a, eps, wd, mom) = (c(lr), c(alpha), c(1.0 - alpha), c(eps), c(weight_decay), c(momentum));
            let (v, mut buf) = match state {
                [v] => (v, None),
                [v, b] => (v, Some(b)),
                _ => unreachable!("state count checked"),
            };
            for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                let g = g + wd * *p;
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
