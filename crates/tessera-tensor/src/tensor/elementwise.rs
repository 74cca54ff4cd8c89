//! Elementwise ops: unary, broadcast binary, comparisons and `where`. The methods of the first
//! three families are generated from their op tables (`tessera_kernels::ops`), one per row.

use super::Tensor;
use crate::Result;
use tessera_kernels::ops::{BinaryOp, CmpOp, UnaryOp};
use tessera_kernels::plan::{BinaryPlan, ComparePlan, UnaryPlan, WherePlan};

impl Tensor {
    /// Applies an elementwise op.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let plan = UnaryPlan::new(op, self.arg())?;
        Ok(Tensor::from_storage(self.storage().unary(&plan)?, self.shape().clone()))
    }

    /// Applies a broadcast binary op; both operands need the same dtype and device.
    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        let plan = BinaryPlan::new(op, self.arg(), rhs.arg())?;
        let storage = self.storage().binary(&plan, &rhs.storage())?;
        Ok(Tensor::from_storage(storage, plan.zip.shape))
    }

    /// A broadcast comparison giving a `u8` mask.
    pub fn compare(&self, op: CmpOp, rhs: &Tensor) -> Result<Tensor> {
        let plan = ComparePlan::new(op, self.arg(), rhs.arg())?;
        let storage = self.storage().compare(&plan, &rhs.storage())?;
        Ok(Tensor::from_storage(storage, plan.zip.shape))
    }

    /// `self ? on_true : on_false` where `self` is a `u8` mask; all three broadcast together.
    pub fn where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        let plan = WherePlan::new(self.arg(), on_true.arg(), on_false.arg())?;
        let storage = self.storage().where_cond(&plan, &on_true.storage(), &on_false.storage())?;
        Ok(Tensor::from_storage(storage, plan.shape))
    }

    tessera_kernels::unary_methods!();

    /// `x * s`.
    pub fn scale(&self, s: f64) -> Result<Tensor> {
        self.affine(s, 0.0)
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        self.affine(1.0, s)
    }

    tessera_kernels::binary_methods!();

    tessera_kernels::compare_methods!();
}
