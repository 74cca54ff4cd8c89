//! 2-d pooling over the last two dims of `[N, C, H, W]` or `[C, H, W]` inputs, with PyTorch's
//! semantics: max pooling (with the argmax of each window), average pooling and adaptive
//! average pooling, and their backward.

use super::Tensor;
use crate::{Result, Storage};
use tessera_core::{Layout, Shape};
use tessera_kernels::plan::{Arg, AvgPool2dSpec, MaxPool2dSpec, PoolBackwardPlan, PoolKind, PoolPlan};

impl Tensor {
    /// Max pooling over the last two dims (PyTorch's `max_pool2d` with `return_indices`):
    /// returns the output `[..., oh, ow]` and, for each output, the position of its maximum
    /// within its input plane, `h · W + w`, as i64. The first maximum wins ties; NaN wins over
    /// numbers. Errors name the shapes when the kernel is larger than the padded input, the
    /// padding exceeds half the kernel, or a size is zero.
    ///
    /// ```
    /// use tessera_tensor::{Device, MaxPool2dSpec, Tensor};
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), [1, 4, 4], &Device::Cpu)?;
    /// let (y, idx) = x.max_pool2d(&MaxPool2dSpec::new([2, 2]))?;
    /// assert_eq!(y.to_vec::<f32>()?, [5., 7., 13., 15.]);
    /// assert_eq!(idx.to_vec::<i64>()?, [5, 7, 13, 15]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn max_pool2d(&self, spec: &MaxPool2dSpec) -> Result<(Tensor, Tensor)> {
        let plan = PoolPlan::new(PoolKind::Max(*spec), self.arg())?;
        let [y, idx] = self.storage().max_pool2d(&plan)?;
        Ok((Tensor::from_storage(y, plan.out_shape.clone()), Tensor::from_storage(idx, plan.out_shape)))
    }

    /// Average pooling over the last two dims (PyTorch's `avg_pool2d`: zero padding, counted in
    /// the divisor when `count_include_pad`, or a fixed `divisor_override`).
    ///
    /// ```
    /// use tessera_tensor::{AvgPool2dSpec, Device, Tensor};
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), [1, 1, 4, 4], &Device::Cpu)?;
    /// let y = x.avg_pool2d(&AvgPool2dSpec::new([2, 2]))?;
    /// assert_eq!(y.to_vec::<f32>()?, [2.5, 4.5, 10.5, 12.5]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn avg_pool2d(&self, spec: &AvgPool2dSpec) -> Result<Tensor> {
        self.avg_pool(PoolKind::Avg(*spec))
    }

    /// Adaptive average pooling to `[oh, ow]` (PyTorch's `adaptive_avg_pool2d`): output row `i`
    /// averages input rows `floor(i·H/oh)..ceil((i+1)·H/oh)`, and likewise for the columns.
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Tensor> {
        self.avg_pool(PoolKind::AdaptiveAvg(output_size))
    }

    fn avg_pool(&self, kind: PoolKind) -> Result<Tensor> {
        let plan = PoolPlan::new(kind, self.arg())?;
        Ok(Tensor::from_storage(self.storage().avg_pool2d(&plan)?, plan.out_shape))
    }

    /// The input's gradient of [`max_pool2d`](Tensor::max_pool2d) over an input of
    /// `input_shape`: each output's gradient `dy` added at its index (summed where windows
    /// share a maximum). An index outside its input plane is an error.
    pub fn max_pool2d_backward(
        dy: &Tensor,
        indices: &Tensor,
        input_shape: &Shape,
        spec: &MaxPool2dSpec,
    ) -> Result<Tensor> {
        pool_backward(PoolKind::Max(*spec), dy, Some(indices), input_shape)
    }

    /// The input's gradient of [`avg_pool2d`](Tensor::avg_pool2d) over an input of
    /// `input_shape`: each output's gradient over its divisor, spread over its window.
    pub fn avg_pool2d_backward(dy: &Tensor, input_shape: &Shape, spec: &AvgPool2dSpec) -> Result<Tensor> {
        pool_backward(PoolKind::Avg(*spec), dy, None, input_shape)
    }

    /// The input's gradient of [`adaptive_avg_pool2d`](Tensor::adaptive_avg_pool2d) over an
    /// input of `input_shape`.
    pub fn adaptive_avg_pool2d_backward(dy: &Tensor, input_shape: &Shape, output_size: [usize; 2]) -> Result<Tensor> {
        pool_backward(PoolKind::AdaptiveAvg(output_size), dy, None, input_shape)
    }
}

fn pool_backward(kind: PoolKind, dy: &Tensor, indices: Option<&Tensor>, input_shape: &Shape) -> Result<Tensor> {
    // The input's shape is an argument here, not a tensor's: it may describe more than memory holds.
    input_shape.countable(kind.backward_name(), dy.dtype())?;
    let layout = Layout::contiguous(input_shape.clone());
    let forward = PoolPlan::new(kind, Arg::new(dy.dtype(), &layout))?;
    let plan = PoolBackwardPlan::new(forward, dy.arg(), indices.map(|i| i.arg()))?;
    let idx = indices.map(|i| i.storage());
    let dx = Storage::pool2d_backward(&plan, &dy.storage(), idx.as_deref())?;
    Ok(Tensor::from_storage(dx, input_shape.clone()))
}
