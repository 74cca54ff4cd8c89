//! Fused dropout and its backward rule: the same mask on the gradient, regenerated from its
//! random numbers rather than stored.

use crate::{Result, Var};
use tessera_tensor::DropoutMask;

impl Var {
    /// Dropout through `mask` (see `Tensor::dropout`); its gradient is the output's gradient
    /// through the same mask.
    ///
    /// ```
    /// use tessera_autograd::Var;
    /// use tessera_tensor::{DType, Device, Generator, Tensor};
    /// let x = Var::param(Tensor::ones([8], DType::F64, &Device::Cpu)?)?;
    /// let mask = Generator::new(1).dropout_mask(0.5, 8)?;
    /// let y = x.dropout(&mask)?;
    /// y.sum_all()?.backward()?;
    /// // Each input's gradient is what it became: 0 where dropped, 2 where kept.
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, y.to_vec::<f64>()?);
    /// # Ok::<(), tessera_autograd::Error>(())
    /// ```
    pub fn dropout(&self, mask: &DropoutMask) -> Result<Var> {
        let (y, mask) = (self.tensor().dropout(mask)?, *mask);
        Ok(Var::record("dropout", y, &[self], move |c| Ok(vec![Some(c.grad.dropout(&mask)?)])))
    }
}
