//! The optimizers as a fuzz target: parameters made from `tensor_ops`'s float operands in every
//! float dtype, an optimizer of each kind with settings read from the input (mostly valid ones,
//! sometimes edge values that must be refused), clipping, a penalty, a parameter group, a decay
//! choice and loss scaling, then a few steps. Before each step every parameter may be given a
//! gradient picked from the operands in any dtype (one of another shape or dtype must be
//! refused) or lose its gradient; between steps the learning rate may change and the state may
//! be saved and loaded again, possibly into an optimizer over other parameters. Errors are fine;
//! a panic is a failure, and so is a step that changes a parameter's shape or dtype.

use super::ops::{self, Reader};
use crate::corpus::{outcome, OUTCOME_PARTS};
use tessera_autograd::Var;
use tessera_tensor::{DType, Tensor};
use tessera_train::optim::{Adam, Clip, GroupOptions, LossScaling, Optimizer, OptimizerKind, Penalty, RmsProp, Sgd};

/// Steps per input at most.
const STEPS: usize = 4;

/// Settings that every optimizer accepts somewhere (rates, betas, decays).
const VALID: [f64; 8] = [0.0, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0];

/// A setting: one of [`VALID`] three times in four, else an edge value (NaN, negative, huge).
fn setting(r: &mut Reader<'_>) -> f64 {
    let b = r.byte();
    if b.is_multiple_of(4) {
        r.float()
    } else {
        VALID[(b / 4) % VALID.len()]
    }
}

fn float_dtype(r: &mut Reader<'_>) -> DType {
    [DType::F32, DType::F64, DType::F16, DType::BF16][r.byte() % 4]
}

fn kind(r: &mut Reader<'_>) -> OptimizerKind {
    match r.byte() % 3 {
        0 => OptimizerKind::Sgd(Sgd {
            lr: setting(r),
            momentum: setting(r),
            dampening: setting(r),
            nesterov: r.flag(),
            weight_decay: setting(r),
        }),
        1 => OptimizerKind::Adam(Adam {
            lr: setting(r),
            betas: (setting(r), setting(r)),
            eps: setting(r),
            weight_decay: setting(r),
            decoupled: r.flag(),
        }),
        _ => OptimizerKind::RmsProp(RmsProp {
            lr: setting(r),
            alpha: setting(r),
            eps: setting(r),
            weight_decay: setting(r),
            momentum: setting(r),
        }),
    }
}

/// One to three parameters from the float operands, each cast to a float dtype and copied into
/// storage of its own (the operands are read again for gradients).
fn parameters(r: &mut Reader<'_>, floats: &[Tensor]) -> tessera_train::Result<Vec<(String, Var)>> {
    (0..1 + r.byte() % 3)
        .map(|i| {
            let t = r.pick(floats).to_dtype(float_dtype(r))?.copy()?;
            Ok((format!("p{i}"), Var::param(t)?))
        })
        .collect()
}

/// The optimizer the input describes, with each option it asks for.
fn optimizer(r: &mut Reader<'_>, params: &[(String, Var)]) -> tessera_train::Result<Optimizer> {
    let mut opt = Optimizer::new(params.to_vec(), kind(r))?;
    if r.flag() {
        let clip = if r.flag() { Clip::GlobalNorm(setting(r)) } else { Clip::Value(setting(r)) };
        opt = opt.with_clip(clip)?;
    }
    if r.flag() {
        let (penalty, first) = (Penalty { l1: setting(r), l2: setting(r) }, r.flag());
        opt = opt.with_penalty(penalty, move |name, _| first == (name == "p0"))?;
    }
    if r.flag() {
        let group = GroupOptions { lr_scale: r.flag().then(|| setting(r)), weight_decay: r.flag().then(|| setting(r)) };
        opt = opt.with_group(|name, _| name == "p1", group)?;
    }
    if r.flag() {
        opt = opt.with_decay_only(tessera_train::optim::matrices_and_embeddings);
    }
    if r.flag() {
        let scaling = LossScaling {
            init_scale: setting(r),
            growth_factor: 1.0 + setting(r),
            backoff_factor: setting(r),
            growth_interval: r.byte() as u64 % 3,
        };
        opt = opt.with_loss_scaling(scaling)?;
    }
    Ok(opt)
}

pub(super) fn optim(data: &[u8]) -> String {
    let floats: Vec<Tensor> = match ops::start() {
        Ok(s) => s.into_iter().filter(|t| t.dtype().is_float()).collect(),
        Err(e) => return format!("operands: {e}"),
    };
    let mut r = Reader::new(data);
    let params = match parameters(&mut r, &floats) {
        Ok(p) => p,
        Err(e) => return format!("parameters: {e}"),
    };
    let mut opt = match optimizer(&mut r, &params) {
        Ok(opt) => opt,
        Err(e) => return format!("optimizer: {e}"),
    };
    let shapes: Vec<(Vec<usize>, DType)> = params.iter().map(|(_, p)| (p.dims().to_vec(), p.dtype())).collect();
    let mut outcomes = Vec::new();
    for _ in 0..STEPS {
        if r.done() {
            break;
        }
        for (_, p) in &params {
            match r.byte() % 3 {
                0 => {
                    let g = r.pick(&floats).to_dtype(float_dtype(&mut r));
                    outcomes.push(format!("grad: {}", outcome(&g.map_err(Into::into).and_then(|g| p.set_grad(g)))));
                }
                1 => p.zero_grad(),
                _ => {}
            }
        }
        outcomes.push(format!("step: {}", outcome(&opt.step())));
        for ((_, p), (dims, dtype)) in params.iter().zip(&shapes) {
            assert!(
                p.dims() == dims && p.dtype() == *dtype,
                "a step made {dims:?} {dtype} {:?} {}",
                p.dims(),
                p.dtype()
            );
        }
        if r.flag() {
            opt.set_learning_rate(r.float());
        }
        if r.flag() {
            // The state into an optimizer over the same or over freshly read parameters.
            let (tensors, steps) = opt.state_dict();
            let same = r.flag();
            let other = if same {
                optimizer(&mut r, &params)
            } else {
                parameters(&mut r, &floats).and_then(|p| optimizer(&mut r, &p))
            };
            let loaded = other.and_then(|mut other| other.load_state_dict(&tensors, steps).map(|()| other));
            outcomes.push(format!("load: {}", outcome(&loaded)));
            if let (true, Ok(other)) = (same, loaded) {
                opt = other;
            }
        }
    }
    outcomes.join(OUTCOME_PARTS)
}
