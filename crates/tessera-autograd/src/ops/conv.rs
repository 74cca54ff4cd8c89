//! 2-D convolution: the im2col and col2im windows, each the other's gradient, and `conv2d` and
//! `conv_transpose2d` as one recorded op each. Their rules are the convolution's two gradients
//! (`Tensor::conv2d_input_grad`, `Tensor::conv2d_weight_grad`) and the forward itself: a
//! transposed convolution's input gradient is the convolution of the output's gradient.

use crate::autocast::Autocast;
use crate::{Result, Var};
use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, Im2ColSpec, Tensor};

/// `t` with a batch dim of 1 in front when the op's input had none.
fn batch(t: &Tensor, batched: bool) -> Result<Tensor> {
    Ok(if batched { t.clone() } else { t.unsqueeze(0)? })
}

/// `t` without the batch dim of 1 again when the op's input had none.
fn unbatch(t: Tensor, batched: bool) -> Result<Tensor> {
    Ok(if batched { t } else { t.squeeze(0)? })
}

/// The inputs of a convolution: `x`, the weight, and the bias when there is one.
fn inputs<'a>(x: &'a Var, weight: &'a Var, bias: Option<&'a Var>) -> Vec<&'a Var> {
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    inputs
}

/// The bias's gradient from the output's `[N, OC, H, W]`: its sum over all but the channels
/// (over each contiguous plane first, then over the batch).
fn bias_grad(dy: &Tensor) -> Result<Tensor> {
    Ok(dy.sum(&[2, 3], false)?.sum(&[0], false)?)
}

impl Var {
    /// The sliding windows of `spec` over images `[N, C, H, W]` as columns `[N, C·KH·KW, OH·OW]`
    /// (see `Tensor::im2col`); the gradient is col2im.
    pub fn im2col(&self, spec: &Im2ColSpec) -> Result<Var> {
        let y = self.tensor().im2col(spec)?;
        let (spec, image) = (*spec, [self.dims()[2], self.dims()[3]]);
        Ok(Var::record("im2col", y, &[self], move |c| Ok(vec![Some(c.grad.col2im(&spec, image)?)])))
    }

    /// Columns `[N, C·KH·KW, OH·OW]` summed back onto images `[N, C, H, W]` of size `image`
    /// (see `Tensor::col2im`); the gradient is im2col.
    pub fn col2im(&self, spec: &Im2ColSpec, image: [usize; 2]) -> Result<Var> {
        let y = self.tensor().col2im(spec, image)?;
        let spec = *spec;
        Ok(Var::record("col2im", y, &[self], move |c| Ok(vec![Some(c.grad.im2col(&spec)?)])))
    }

    /// 2-D convolution (PyTorch's `conv2d`): `self` `[N, C, H, W]` or `[C, H, W]`, `weight`
    /// `[OC, C / groups, KH, KW]`, `bias` `[OC]`, output `[N, OC, OH, OW]` (see
    /// `Tensor::conv2d`), differentiable in all three. Inside an autocast scope f32 operands
    /// compute in its low precision (see [`Precision`](crate::Precision)).
    pub fn conv2d(&self, weight: &Var, bias: Option<&Var>, spec: &Conv2dSpec) -> Result<Var> {
        if let Some(cast) = Autocast::of(&inputs(self, weight, bias)) {
            let bias = bias.map(|b| cast.operand(b)).transpose()?;
            return cast.result(cast.operand(self)?.conv2d(&cast.operand(weight)?, bias.as_ref(), spec)?);
        }
        let plan = self.tensor().conv2d_plan(weight.tensor(), bias.map(|b| b.tensor()), spec)?;
        let y = self.tensor().conv2d(weight.tensor(), bias.map(|b| b.tensor()), spec)?;
        let (x, w, spec, batched) = (self.tensor().clone(), weight.tensor().clone(), *spec, plan.batched);
        let (image, kernel) = (plan.window.image, plan.window.spec.kernel);
        Ok(Var::record("conv2d", y, &inputs(self, weight, bias), move |c| {
            let dy = batch(c.grad, batched)?;
            let dx = if c.needs(0) { Some(unbatch(dy.conv2d_input_grad(&w, &spec, image)?, batched)?) } else { None };
            let dw = if c.needs(1) { Some(batch(&x, batched)?.conv2d_weight_grad(&dy, &spec, kernel)?) } else { None };
            let mut grads = vec![dx, dw];
            if c.num_inputs() == 3 {
                grads.push(if c.needs(2) { Some(bias_grad(&dy)?) } else { None });
            }
            Ok(grads)
        }))
    }

    /// Transposed 2-D convolution (PyTorch's `conv_transpose2d`): `self` `[N, C, H, W]` or
    /// `[C, H, W]`, `weight` `[C, OC / groups, KH, KW]`, `bias` `[OC]`, output
    /// `[N, OC, HO, WO]` (see `Tensor::conv_transpose2d`), differentiable in all three.
    /// Autocast as [`Var::conv2d`].
    pub fn conv_transpose2d(&self, weight: &Var, bias: Option<&Var>, spec: &ConvTranspose2dSpec) -> Result<Var> {
        if let Some(cast) = Autocast::of(&inputs(self, weight, bias)) {
            let bias = bias.map(|b| cast.operand(b)).transpose()?;
            return cast.result(cast.operand(self)?.conv_transpose2d(&cast.operand(weight)?, bias.as_ref(), spec)?);
        }
        let plan = self.tensor().conv_transpose2d_plan(weight.tensor(), bias.map(|b| b.tensor()), spec)?;
        let y = self.tensor().conv_transpose2d(weight.tensor(), bias.map(|b| b.tensor()), spec)?;
        let (x, w, batched, conv) = (self.tensor().clone(), weight.tensor().clone(), plan.batched, plan.conv);
        let kernel = [w.dims()[2], w.dims()[3]];
        Ok(Var::record("conv_transpose2d", y, &inputs(self, weight, bias), move |c| {
            let dy = batch(c.grad, batched)?;
            let x = batch(&x, batched)?;
            let [h, wd] = [x.dims()[2], x.dims()[3]];
            let dx = if c.needs(0) {
                // The convolution of dy covers the input and the extra rows and columns (if any).
                let dx = dy.conv2d(&w, None, &conv)?.narrow(2, 0, h)?.narrow(3, 0, wd)?;
                Some(unbatch(dx, batched)?)
            } else {
                None
            };
            let dw = if c.needs(1) {
                let mut xp = x.clone();
                for (axis, more) in plan.extra.into_iter().enumerate().filter(|(_, m)| *m > 0) {
                    let mut dims = xp.dims().to_vec();
                    dims[2 + axis] = more;
                    xp = Tensor::cat(&[xp.clone(), Tensor::zeros(dims, xp.dtype(), xp.device())?], 2 + axis as isize)?;
                }
                Some(dy.conv2d_weight_grad(&xp, &conv, kernel)?)
            } else {
                None
            };
            let mut grads = vec![dx, dw];
            if c.num_inputs() == 3 {
                grads.push(if c.needs(2) { Some(bias_grad(&dy)?) } else { None });
            }
            Ok(grads)
        }))
    }
}
