//! Matrix product with broadcast batch dims, and its backward rule.

use super::sum_to_shape;
use crate::{Result, Var};

impl Var {
    /// Matrix product `[..., m, k] @ [..., k, n]` with broadcast batch dims (rank >= 2 each).
    /// The gradients are `g @ bᵀ` and `aᵀ @ g`, summed over the batch dims an operand was
    /// broadcast along. Transposes are views: no copies are made for them.
    pub fn matmul(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().matmul(rhs.tensor())?;
        let (a, b) = (self.tensor().clone(), rhs.tensor().clone());
        Ok(Var::record("matmul", y, &[self, rhs], move |c| {
            let g = c.grad;
            let ga = if c.needs(0) { Some(sum_to_shape(&g.matmul(&b.t()?)?, a.shape())?) } else { None };
            let gb = if c.needs(1) { Some(sum_to_shape(&a.t()?.matmul(g)?, b.shape())?) } else { None };
            Ok(vec![ga, gb])
        }))
    }
}
