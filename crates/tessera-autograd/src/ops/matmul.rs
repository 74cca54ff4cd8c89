//! Matrix product with broadcast batch dims, and its backward rule.

use super::sum_to_shape;
use crate::autocast::Autocast;
use crate::{Result, Var};
use tessera_tensor::Tensor;

/// The gradient of the right operand `b` of `a @ b` given the output gradient `g`: `aᵀ @ g`.
/// When `b` is the transpose of a contiguous matrix (a linear layer's `weightᵀ`), the gradient
/// reaching the weight is made contiguous, so that the optimizer does not have to gather a
/// transposed view: computed as `(gᵀ @ a)ᵀ`, or, for a layer far wider than its input (a
/// language model's decoder over its vocabulary), as `aᵀ @ g` transposed after.
fn rhs_grad(a: &Tensor, g: &Tensor, b: &Tensor) -> Result<Tensor> {
    // A matrix shared by every batch (a linear layer's weight): one product over all the rows,
    // not a product per batch summed after.
    if a.rank() > 2 && b.rank() == 2 {
        let (a, g) = as_rows(a, g)?;
        return rhs_grad(&a, &g, b);
    }
    if transposed_weight(a, b)? {
        if wide(a, g) {
            return weight_layout(&a.t()?.matmul(g)?);
        }
        return Ok(g.t()?.matmul(a)?.t()?);
    }
    sum_to_shape(&a.t()?.matmul(g)?, b.shape())
}

/// The gradients of the right operand and of the bias of `a @ b + bias`. For a wide linear layer
/// (see [`wide`]) the bias's, the column sums of `g`, is one more row of the weight's product,
/// `[a, 1]ᵀ @ g`, which reads `g` once where a separate sum would read it again (22 MB for the
/// LM's decoder over 5000 words).
fn rhs_and_bias_grads(a: &Tensor, g: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    if b.rank() == 2 {
        let (a2, g2) = if a.rank() > 2 { as_rows(a, g)? } else { (a.clone(), g.clone()) };
        if transposed_weight(&a2, b)? && wide(&a2, &g2) {
            let (rows, k) = (a2.dims()[0], a2.dims()[1]);
            let ones = Tensor::ones([rows, 1], a2.dtype(), a2.device())?;
            let both = Tensor::cat(&[a2, ones], 1)?.t()?.matmul(&g2)?;
            return Ok((weight_layout(&both.narrow(0, 0, k)?)?, both.narrow(0, k, 1)?.squeeze(0)?));
        }
    }
    Ok((rhs_grad(a, g, b)?, bias_grad(g)?))
}

/// A bias's gradient: `g` summed over every dim but the last.
fn bias_grad(g: &Tensor) -> Result<Tensor> {
    let rows: Vec<isize> = (0..g.rank() as isize - 1).collect();
    Ok(g.sum(&rows, false)?)
}

/// `a` and `g` with their batch dims folded into rows: `[rows, k]` and `[rows, n]`.
fn as_rows(a: &Tensor, g: &Tensor) -> Result<(Tensor, Tensor)> {
    let (k, n) = (a.dims()[a.rank() - 1], g.dims()[g.rank() - 1]);
    let rows = a.shape().elem_count() / k.max(1);
    Ok((a.reshape([rows, k])?, g.reshape([rows, n])?))
}

/// Whether `b` is a matrix seen transposed (a linear layer's `weightᵀ`) under a matrix `a`.
fn transposed_weight(a: &Tensor, b: &Tensor) -> Result<bool> {
    Ok(a.rank() == 2 && b.rank() == 2 && !b.is_contiguous() && b.t()?.is_contiguous())
}

/// Whether the layer is at least 16 times wider than its input (`g` `[rows, n]`, `a`
/// `[rows, k]`). Then `gᵀ @ a` would have gemm pack all of `g` from rows `n` apart, and `aᵀ @ g`
/// (packing the narrow `a`) pays for the transpose after. The LM decoder's gradient
/// (`[1120, 5000]ᵀ @ [1120, 256]`), median of 15 alone, Zen 4: 33.6 -> 28.6 ms on one thread,
/// 16.6 -> 15.0 ms on two; at `n = 8 k` (`[1120, 1024]ᵀ @ [1120, 128]`) it lost, 2.6 -> 2.9 ms.
fn wide(a: &Tensor, g: &Tensor) -> bool {
    g.dims()[1] >= 16 * a.dims()[1]
}

/// A weight's gradient computed in the layout of `weightᵀ` (`[k, n]`, contiguous), returned as
/// `[k, n]` whose transpose, the weight's own layout, is contiguous.
fn weight_layout(grad_t: &Tensor) -> Result<Tensor> {
    Ok(grad_t.t()?.contiguous()?.t()?)
}

impl Var {
    /// Matrix product `[..., m, k] @ [..., k, n]` with broadcast batch dims (rank >= 2 each).
    /// The gradients are `g @ bᵀ` and `aᵀ @ g`, summed over the batch dims an operand was
    /// broadcast along. Transposes are views: no copies are made for them. Inside an autocast
    /// scope f32 operands multiply in its low precision (see [`Precision`](crate::Precision)).
    pub fn matmul(&self, rhs: &Var) -> Result<Var> {
        if let Some(cast) = Autocast::of(&[self, rhs]) {
            return cast.result(cast.operand(self)?.matmul(&cast.operand(rhs)?)?);
        }
        let y = self.tensor().matmul(rhs.tensor())?;
        let (a, b) = (self.tensor().clone(), rhs.tensor().clone());
        Ok(Var::record("matmul", y, &[self, rhs], move |c| {
            let g = c.grad;
            let ga = if c.needs(0) { Some(sum_to_shape(&g.matmul(&b.t()?)?, a.shape())?) } else { None };
            let gb = if c.needs(1) { Some(rhs_grad(&a, g, &b)?) } else { None };
            Ok(vec![ga, gb])
        }))
    }

    /// `self @ rhs + bias` (`bias` `[n]`, added to every row), fused: see
    /// [`Tensor::matmul_bias`](tessera_tensor::Tensor::matmul_bias). Gradients as
    /// [`Var::matmul`], and the bias's is the output gradient summed over all rows. Autocast as
    /// [`Var::matmul`].
    pub fn matmul_bias(&self, rhs: &Var, bias: &Var) -> Result<Var> {
        if let Some(cast) = Autocast::of(&[self, rhs, bias]) {
            let (a, b, c) = (cast.operand(self)?, cast.operand(rhs)?, cast.operand(bias)?);
            return cast.result(a.matmul_bias(&b, &c)?);
        }
        let y = self.tensor().matmul_bias(rhs.tensor(), bias.tensor())?;
        let (a, b) = (self.tensor().clone(), rhs.tensor().clone());
        Ok(Var::record("matmul_bias", y, &[self, rhs, bias], move |c| {
            let g = c.grad;
            let ga = if c.needs(0) { Some(sum_to_shape(&g.matmul(&b.t()?)?, a.shape())?) } else { None };
            let (gb, gc) = match (c.needs(1), c.needs(2)) {
                (true, true) => {
                    let (gb, gc) = rhs_and_bias_grads(&a, g, &b)?;
                    (Some(gb), Some(gc))
                }
                (true, false) => (Some(rhs_grad(&a, g, &b)?), None),
                (false, true) => (None, Some(bias_grad(g)?)),
                (false, false) => (None, None),
            };
            Ok(vec![ga, gb, gc])
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{rhs_and_bias_grads, rhs_grad};
    use tessera_tensor::{DType, Device, Tensor};

    fn values(dims: &[usize], seed: u64) -> Tensor {
        let len: usize = dims.iter().product();
        let v: Vec<f64> = (0..len as u64).map(|i| ((i * 37 + seed * 11) % 23) as f64 - 11.0).collect();
        Tensor::from_vec(v, dims.to_vec(), &Device::Cpu).unwrap()
    }

    /// A linear layer's weight gradient, `b` the transposed view of a contiguous weight, reaches
    /// the weight contiguous and equal to `aᵀ @ g` in either orientation, narrow (`n < 16 k`)
    /// and wide (`n >= 16 k`: `aᵀ @ g` transposed after); with a bias, whose gradient is the
    /// column sums of `g` either way (from the weight's product when wide), also for an input
    /// with batch dims.
    #[test]
    fn a_transposed_weights_gradients_match_in_both_orientations() {
        for (lead, k, n) in [(vec![6], 4, 10), (vec![6], 2, 40), (vec![2, 3], 2, 40)] {
            let case = format!("{lead:?} x {k} x {n}");
            let rows: usize = lead.iter().product();
            let a = values(&[lead.clone(), vec![k]].concat(), 1);
            let g = values(&[lead.clone(), vec![n]].concat(), 2);
            let b = Tensor::zeros([n, k], DType::F64, &Device::Cpu).unwrap().t().unwrap();
            let want = a.reshape([rows, k]).unwrap().t().unwrap().matmul(&g.reshape([rows, n]).unwrap()).unwrap();
            let want_bias = g.reshape([rows, n]).unwrap().sum(&[0], false).unwrap();
            let alone = rhs_grad(&a, &g, &b).unwrap();
            let (with_bias, bias) = rhs_and_bias_grads(&a, &g, &b).unwrap();
            for got in [alone, with_bias] {
                assert_eq!(got.dims(), [k, n], "{case}");
                assert!(got.t().unwrap().is_contiguous(), "{case}: the weight's gradient is contiguous");
                assert_eq!(got.to_vec::<f64>().unwrap(), want.to_vec::<f64>().unwrap(), "{case}");
            }
            assert_eq!(bias.dims(), [n], "{case}");
            assert_eq!(bias.to_vec::<f64>().unwrap(), want_bias.to_vec::<f64>().unwrap(), "{case}");
        }
    }
}
