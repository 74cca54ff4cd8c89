//! Dropout as one fused op: the mask is drawn from Philox counters inside the kernel, never
//! stored, and regenerated for the gradient.

use super::Tensor;
use crate::{Generator, Result};
use tessera_kernels::plan::{DropoutMask, DropoutPlan};

impl Tensor {
    /// Zeroes each element where `mask` drops it and scales the rest by `1 / (1 - p)`, in one
    /// pass; the output is contiguous. The same mask applied to the output's gradient is the
    /// input's gradient.
    ///
    /// ```
    /// use tessera_tensor::{DType, Device, Generator, Tensor};
    /// let x = Tensor::ones([1000], DType::F32, &Device::Cpu)?;
    /// let mask = Generator::new(0).dropout_mask(0.25, 1000)?;
    /// let y = x.dropout(&mask)?.to_vec::<f32>()?;
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
    /// let kept = y.iter().filter(|&&v| v > 0.0).count();
    /// assert!((700..800).contains(&kept), "about 750 of 1000 kept, got {kept}");
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn dropout(&self, mask: &DropoutMask) -> Result<Tensor> {
        let plan = DropoutPlan::new(self.arg(), *mask)?;
        Ok(Tensor::from_storage(self.storage().dropout(&plan)?, self.shape().clone()))
    }
}

impl Generator {
    /// A dropout mask with probability `p` over `elements` elements, its random numbers
    /// reserved from this generator: for [`Tensor::dropout`] (`elements` its element count), or
    /// for one [`Tensor::attention`] call's weights (`batch * heads * q_len * kv_len`) in its
    /// [`AttentionSpec`](crate::AttentionSpec). A generator with a
    /// [`share`](Generator::set_share) draws its part of a mask over that many times the
    /// elements.
    pub fn dropout_mask(&mut self, p: f64, elements: usize) -> Result<DropoutMask> {
        let (part, parts) = self.share;
        Ok(DropoutMask::draw_part(p, &mut self.philox, elements, part, parts)?)
    }
}
