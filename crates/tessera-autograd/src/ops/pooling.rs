//! 2-d pooling (max, average, adaptive average) with their backward rules, and flattening.

use crate::{Result, Var};
use tessera_tensor::{AvgPool2dSpec, MaxPool2dSpec, Shape, Tensor};

impl Var {
    /// Max pooling over the last two dims of `[N, C, H, W]` or `[C, H, W]` (see
    /// `Tensor::max_pool2d`); the gradient goes to each window's maximum.
    pub fn max_pool2d(&self, spec: &MaxPool2dSpec) -> Result<Var> {
        Ok(self.max_pool2d_with_indices(spec)?.0)
    }

    /// Max pooling that also returns the argmax (i64 positions within each input plane, as
    /// PyTorch's `return_indices`), a constant.
    pub fn max_pool2d_with_indices(&self, spec: &MaxPool2dSpec) -> Result<(Var, Tensor)> {
        let (y, indices) = self.tensor().max_pool2d(spec)?;
        let (idx, spec) = (indices.clone(), *spec);
        let var = Var::record("max_pool2d", y, &[self], move |c| {
            Ok(vec![Some(Tensor::max_pool2d_backward(c.grad, &idx, c.input_shape(0), &spec)?)])
        });
        Ok((var, indices))
    }

    /// Average pooling over the last two dims (see `Tensor::avg_pool2d`); the gradient is
    /// spread over each window.
    pub fn avg_pool2d(&self, spec: &AvgPool2dSpec) -> Result<Var> {
        let (y, spec) = (self.tensor().avg_pool2d(spec)?, *spec);
        Ok(Var::record("avg_pool2d", y, &[self], move |c| {
            Ok(vec![Some(Tensor::avg_pool2d_backward(c.grad, c.input_shape(0), &spec)?)])
        }))
    }

    /// Adaptive average pooling to `[oh, ow]` (see `Tensor::adaptive_avg_pool2d`).
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Var> {
        let y = self.tensor().adaptive_avg_pool2d(output_size)?;
        Ok(Var::record("adaptive_avg_pool2d", y, &[self], move |c| {
            Ok(vec![Some(Tensor::adaptive_avg_pool2d_backward(c.grad, c.input_shape(0), output_size)?)])
        }))
    }

    /// Merges dims `start_dim..=end_dim` into one (see `Tensor::flatten`).
    pub fn flatten(&self, start_dim: isize, end_dim: isize) -> Result<Var> {
        let y = self.tensor().flatten(start_dim, end_dim)?;
        Ok(self.reshaped_back("flatten", y))
    }

    /// Splits `dim` into dims of `sizes` (see `Tensor::unflatten`).
    pub fn unflatten(&self, dim: isize, sizes: &[usize]) -> Result<Var> {
        let y = self.tensor().unflatten(dim, sizes)?;
        Ok(self.reshaped_back("unflatten", y))
    }

    /// Records a reshape: the gradient is reshaped back to the input's shape.
    fn reshaped_back(&self, op: &'static str, y: Tensor) -> Var {
        Var::record(op, y, &[self], |c| {
            let shape: Shape = c.input_shape(0).clone();
            Ok(vec![Some(c.grad.reshape(shape)?)])
        })
    }
}
