//! Fused optimizer steps on the GPU against the CPU: every optimizer, a few steps in a row, f32
//! and f64, and f16/bf16 parameters with f32 masters, equal within 1e-6 relative (the rounded
//! half parameters exactly their masters rounded).

use crate::common::cuda::*;
use tessera_tensor::{DType, Device, OptimStep, Result, Tensor};

/// Steps of each kind (the first SGD-with-momentum step starts the buffer from the gradient).
fn steps(step: u64) -> [OptimStep; 5] {
    let first_step = step == 1;
    [
        OptimStep::Sgd { lr: 0.1, momentum: 0.0, dampening: 0.0, weight_decay: 0.01, nesterov: false, first_step },
        OptimStep::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.0, nesterov: true, first_step },
        OptimStep::Adam { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decoupled: false, step },
        OptimStep::Adam { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decoupled: true, step },
        OptimStep::RmsProp { lr: 1e-2, alpha: 0.9, eps: 1e-8, weight_decay: 0.05, momentum: 0.5 },
    ]
}

/// `count` state tensors of zeros on the CPU and the same on `dev`.
fn zero_states(dev: &Device, dtype: DType, count: usize) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let zeros = |d: &Device| Tensor::zeros([7, 9], dtype, d);
    Ok((0..count).map(|_| Ok((zeros(&Device::Cpu)?, zeros(dev)?))).collect::<Result<Vec<_>>>()?.into_iter().unzip())
}

pub fn optim_steps(dev: &Device) -> Result<()> {
    for dtype in [DType::F32, DType::F64] {
        for kind in 0..steps(1).len() {
            let count = steps(1)[kind].state_count();
            let (cp, gp) = pair(dev, dtype, &[7, 9], 80, -2.0, 2.0)?;
            // Updated in place: its own storage even when a dry run's "GPU" is the CPU.
            let gp = gp.copy()?;
            let (cs, gs) = zero_states(dev, dtype, count)?;
            for t in 1..=3u64 {
                let step = steps(t)[kind];
                let (cg, gg) = pair(dev, dtype, &[7, 9], 81 + t, -1.0, 1.0)?;
                cp.optim_step_(&step, &cg, &cs.iter().collect::<Vec<_>>(), 0.5)?;
                gp.optim_step_(&step, &gg, &gs.iter().collect::<Vec<_>>(), 0.5)?;
                let what = format!("{} {dtype} step {t}", step.name());
                check_tol(&format!("{what}: parameter"), (1e-6, 1e-6), &Ok(cp.clone()), &Ok(gp.clone()));
                for (k, (c, g)) in cs.iter().zip(&gs).enumerate() {
                    check_tol(&format!("{what}: state {k}"), (1e-6, 1e-6), &Ok(c.clone()), &Ok(g.clone()));
                }
            }
        }
    }
    Ok(())
}

/// The master-copy steps of f16 and bf16 parameters: the f32 masters and state as the CPU's,
/// and each parameter its own master rounded.
pub fn master_steps(dev: &Device) -> Result<()> {
    for half in [DType::F16, DType::BF16] {
        for kind in 0..steps(1).len() {
            let count = steps(1)[kind].state_count();
            let (cw, gw) = pair(dev, DType::F32, &[7, 9], 90, -2.0, 2.0)?;
            let gw = gw.copy()?;
            let (cp, gp) = (cw.to_dtype(half)?, gw.to_dtype(half)?);
            let (cs, gs) = zero_states(dev, DType::F32, count)?;
            for t in 1..=3u64 {
                let step = steps(t)[kind];
                // Gradients as loss scaling leaves them, unscaled by the step.
                let (cg, gg) = pair(dev, DType::F32, &[7, 9], 91 + t, -512.0, 512.0)?;
                cp.optim_step_master_(&cw, &step, &cg, &cs.iter().collect::<Vec<_>>(), 1.0 / 512.0)?;
                gp.optim_step_master_(&gw, &step, &gg, &gs.iter().collect::<Vec<_>>(), 1.0 / 512.0)?;
                let what = format!("{} {half} master step {t}", step.name());
                check_tol(&format!("{what}: master"), (1e-6, 1e-6), &Ok(cw.clone()), &Ok(gw.clone()));
                check_tol(&format!("{what}: parameter"), (0.0, 0.0), &gw.to_dtype(half), &Ok(gp.clone()));
                for (k, (c, g)) in cs.iter().zip(&gs).enumerate() {
                    check_tol(&format!("{what}: state {k}"), (1e-6, 1e-6), &Ok(c.clone()), &Ok(g.clone()));
                }
            }
        }
    }
    Ok(())
}
