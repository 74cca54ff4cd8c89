//! One gradient check: build the inputs, backward through the op, and compare every gradient
//! element with a central finite difference in `f64`.

use super::draw::{Domain, Draw, Input, View};
use crate::{no_grad, Result, Var};
use tessera_tensor::{Device, Tensor};

/// The function under test, from the (viewed) inputs to an output of any shape.
pub type CheckedFn = Box<dyn Fn(&[Var]) -> Result<Var>>;

/// A case of a check: inputs and the function of them whose gradients are checked.
pub struct Problem {
    /// The inputs, in the order `f` takes them.
    pub inputs: Vec<Input>,
    /// The function under test.
    pub f: CheckedFn,
    /// The finite-difference step.
    pub step: f64,
    /// An element passes when `|analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)`.
    pub atol: f64,
    /// See `atol`.
    pub rtol: f64,
}

impl Problem {
    /// A problem with the default step (1e-6) and tolerances (1e-6 absolute, 1e-5 relative).
    pub fn new(inputs: Vec<Input>, f: impl Fn(&[Var]) -> Result<Var> + 'static) -> Problem {
        Problem { inputs, f: Box::new(f), step: 1e-6, atol: 1e-6, rtol: 1e-5 }
    }

    /// The same problem with another step and tolerances (for ops that round, like casts).
    pub fn with_tolerance(mut self, step: f64, atol: f64, rtol: f64) -> Problem {
        (self.step, self.atol, self.rtol) = (step, atol, rtol);
        self
    }
}

/// The largest errors of one case.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaseErrors {
    /// Largest `|analytic - numeric|`.
    pub max_abs: f64,
    /// Largest `|analytic - numeric| / max(|analytic|, |numeric|)` over elements whose gradient
    /// is at least 1e-3 in size.
    pub max_rel: f64,
}

fn leaf_tensor(input: &Input, base: &[f64], device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_vec(base.to_vec(), input.base_shape.clone(), device)?)
}

fn apply_view(v: &Var, view: &View) -> Result<Var> {
    match view {
        View::Plain => Ok(v.clone()),
        View::Transposed => v.t(),
        View::Narrowed { dim, start, len } => v.narrow(*dim as isize, *start, *len),
        View::Expanded(shape) => v.expand(shape.clone()),
    }
}

/// `sum(f(inputs) * weights)`: a scalar to which every output element contributes.
fn weighted_loss(p: &Problem, leaves: &[Var], weights: &Tensor) -> Result<Var> {
    output(p, leaves)?.mul(&Var::constant(weights.clone()))?.sum_all()
}

fn output(p: &Problem, leaves: &[Var]) -> Result<Var> {
    let views = leaves.iter().zip(&p.inputs).map(|(v, i)| apply_view(v, &i.view)).collect::<Result<Vec<_>>>()?;
    (p.f)(&views)
}

/// Runs one case: analytic gradients by backward, numeric ones by central differences. Returns
/// the errors, or a description of the first element out of tolerance.
pub fn check_problem(p: &Problem, draw: &mut Draw) -> std::result::Result<CaseErrors, String> {
    let fail = |e: crate::Error| format!("error: {e}");
    let device = draw.device();
    let leaves = p
        .inputs
        .iter()
        .map(|i| Var::new(leaf_tensor(i, &i.base, &device)?, i.requires_grad))
        .collect::<Result<Vec<_>>>()
        .map_err(fail)?;
    let y = output(p, &leaves).map_err(fail)?;
    let values = draw.values(y.elem_count(), &Domain::Range(-1.0, 1.0));
    let weights = Tensor::from_vec(values, y.dims().to_vec(), &device)
        .and_then(|w| w.to_dtype(y.dtype()))
        .map_err(|e| fail(e.into()))?;
    let loss = y.mul(&Var::constant(weights.clone())).and_then(|l| l.sum_all()).map_err(fail)?;
    if !loss.requires_grad() {
        return Err("the output does not require grad although inputs do".into());
    }
    loss.backward().map_err(fail)?;
    let eval = |which: usize, base: &[f64]| -> Result<f64> {
        no_grad(|| {
            let consts = p
                .inputs
                .iter()
                .enumerate()
                .map(|(k, i)| Ok(Var::constant(leaf_tensor(i, if k == which { base } else { &i.base }, &device)?)))
                .collect::<Result<Vec<_>>>()?;
            weighted_loss(p, &consts, &weights)?.to_scalar_f64()
        })
    };
    let mut errors = CaseErrors::default();
    for (k, (input, leaf)) in p.inputs.iter().zip(&leaves).enumerate().filter(|(_, (i, _))| i.requires_grad) {
        let analytic = match leaf.grad() {
            Some(g) => g.to_vec_f64().map_err(|e| fail(e.into()))?,
            None => vec![0.0; input.base.len()],
        };
        let mut base = input.base.clone();
        for j in 0..base.len() {
            let original = base[j];
            base[j] = original + p.step;
            let plus = eval(k, &base).map_err(fail)?;
            base[j] = original - p.step;
            let minus = eval(k, &base).map_err(fail)?;
            base[j] = original;
            let numeric = (plus - minus) / (2.0 * p.step);
            let (a, scale) = (analytic[j], analytic[j].abs().max(numeric.abs()));
            let abs = (a - numeric).abs();
            if abs.is_nan() || abs > p.atol + p.rtol * scale {
                return Err(format!(
                    "input {k} (shape {:?}, view {:?}), element {j}: analytic {a:.9e}, numeric {numeric:.9e}",
                    input.base_shape, input.view
                ));
            }
            errors.max_abs = errors.max_abs.max(abs);
            if scale >= 1e-3 {
                errors.max_rel = errors.max_rel.max(abs / scale);
            }
        }
    }
    Ok(errors)
}
