//! Batches as `tessera_tensor::Tensor`s (feature `tensor`).

use tessera_tensor::{Device, Tensor};

use super::{PaddedBatch, StreamBatch};
use crate::error::Result;

impl PaddedBatch {
    /// The ids (`u32`) and attention mask (`u8`) as `[batch, seq_len]` tensors on `device`.
    ///
    /// ```
    /// use tessera_tensor::Device;
    /// let batch = tessera_text::pad_batch(&[vec![5, 6], vec![7]], 0, None);
    /// let (ids, mask) = batch.to_tensors(&Device::Cpu).unwrap();
    /// assert_eq!(ids.dims(), [2, 2]);
    /// assert_eq!(mask.to_vec::<u8>().unwrap(), [1, 1, 1, 0]);
    /// ```
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let ids = Tensor::from_slice(&self.ids, self.shape, device)?;
        let mask = Tensor::from_slice(&self.attention_mask, self.shape, device)?;
        Ok((ids, mask))
    }
}

impl StreamBatch {
    /// Inputs and targets (`u32`) as `[batch, len]` tensors on `device`.
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let input = Tensor::from_slice(&self.input, self.shape, device)?;
        let target = Tensor::from_slice(&self.target, self.shape, device)?;
        Ok((input, target))
    }
}
