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
        let (k, n) = (a.dims()[a.rank() - 1], g.dims()[g.rank() - 1]);
        let rows = a.shape().elem_count() / k.max(1);
        return rhs_grad(&a.reshape([rows, k])?, &g.reshape([rows, n])?, b);
    }
    if a.rank() == 2 && b.rank() == 2 && !b.is_contiguous() && b.t()?.is_contiguous() {
        // gᵀ @ a has gemm pack all of g from rows `n` apart; aᵀ @ g packs the narrow `a` instead,
        // which from `n = 16 k` on pays for the transpose after. The LM decoder's gradient
        // (`[1120, 5000]ᵀ @ [1120, 256]`), median of 15 alone, Zen 4: 33.6 -> 28.6 ms on one
        // thread, 16.6 -> 15.0 ms on two; at `n = 8 k` (`[1120, 1024]ᵀ @ [1120, 128]`) it lost,
        // 2.6 -> 2.9 ms.
        let (k, n) = (a.dims()[1], g.dims()[1]);
        if n >= 16 * k {
            return Ok(a.t()?.matmul(g)?.t()?.contiguous()?.t()?);
        }
        return Ok(g.t()?.matmul(a)?.t()?);
    }
    sum_to_shape(&a.t()?.matmul(g)?, b.shape())
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
            let gb = if c.needs(1) { Some(rhs_grad(&a, g, &b)?) } else { None };
            let gc = if c.needs(2) {
                let rows: Vec<isize> = (0..g.rank() as isize - 1).collect();
                Some(g.sum(&rows, false)?)
            } else {
                None
            };
            Ok(vec![ga, gb, gc])
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::rhs_grad;
    use tessera_tensor::{DType, Device, Tensor};

    /// A linear layer's weight gradient, `b` the transposed view of a contiguous weight, reaches
    /// the weight contiguous and equal to `aᵀ @ g` in either orientation: narrow (`n < 16 k`) and
    /// wide (`n >= 16 k`, computed as `aᵀ @ g` and transposed).
    #[test]
    fn a_transposed_weights_gradient_is_contiguous_in_both_orientations() {
        let values = |len: usize, seed: u64| -> Vec<f64> {
            (0..len as u64).map(|i| ((i * 37 + seed * 11) % 23) as f64 - 11.0).collect()
        };
        for (rows, k, n) in [(6, 4, 10), (6, 2, 40)] {
            let a = Tensor::from_vec(values(rows * k, 1), [rows, k], &Device::Cpu).unwrap();
            let g = Tensor::from_vec(values(rows * n, 2), [rows, n], &Device::Cpu).unwrap();
            let b = Tensor::zeros([n, k], DType::F64, &Device::Cpu).unwrap().t().unwrap();
            let got = rhs_grad(&a, &g, &b).unwrap();
            assert_eq!(got.dims(), [k, n]);
            assert!(got.t().unwrap().is_contiguous(), "{rows}x{k}x{n}: the weight's gradient is contiguous");
            let want = a.t().unwrap().matmul(&g).unwrap();
            assert_eq!(got.to_vec::<f64>().unwrap(), want.to_vec::<f64>().unwrap(), "{rows}x{k}x{n}");
        }
    }
}
