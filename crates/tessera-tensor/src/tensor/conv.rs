//! 2-D convolution over NCHW images: the im2col and col2im windows, `conv2d` and its two
//! gradients (each one op, see `tessera_kernels::cpu::conv2d`), and `conv_transpose2d`, the
//! images' gradient of a `conv2d` plus a bias.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{
    Col2ImPlan, Conv2dPlan, Conv2dSpec, ConvTranspose2dPlan, ConvTranspose2dSpec, Im2ColPlan, Im2ColSpec,
};

impl Tensor {
    /// The sliding windows of `spec` over images `[N, C, H, W]` as columns
    /// `[N, C·KH·KW, OH·OW]`: row `(c, kh, kw)`, column `(oh, ow)` holds
    /// `x[n, c, oh·sh - ph + kh·dh, ow·sw - pw + kw·dw]`, 0 in the padding, with
    /// `OH = (H + 2·ph - dh·(KH - 1) - 1) / sh + 1` (likewise `OW`).
    ///
    /// ```
    /// use tessera_tensor::{Device, Im2ColSpec, Tensor};
    /// let x = Tensor::from_vec((0..9).map(|v| v as f32).collect(), [1, 1, 3, 3], &Device::Cpu)?;
    /// let spec = Im2ColSpec { kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    /// let col = x.im2col(&spec)?;
    /// assert_eq!(col.dims(), [1, 4, 4]);
    /// assert_eq!(col.to_vec::<f32>()?[..4], [0., 1., 3., 4.]); // tap (0, 0) at each position
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn im2col(&self, spec: &Im2ColSpec) -> Result<Tensor> {
        let plan = Im2ColPlan::new(self.arg(), spec)?;
        Ok(Tensor::from_storage(self.storage().im2col(&plan)?, plan.out_shape))
    }

    /// The adjoint of [`im2col`](Tensor::im2col): columns `[N, C·KH·KW, OH·OW]` summed back onto
    /// images `[N, C, H, W]` of size `image` = `[H, W]` (each entry added to the pixel im2col
    /// read it from; padding entries are dropped).
    pub fn col2im(&self, spec: &Im2ColSpec, image: [usize; 2]) -> Result<Tensor> {
        let plan = Col2ImPlan::new(self.arg(), spec, image)?;
        Ok(Tensor::from_storage(self.storage().col2im(&plan)?, plan.out_shape))
    }

    /// The checked sizes of [`conv2d`](Tensor::conv2d) of `self` by `weight` and `bias` (the
    /// errors it would give), for code that needs them before running it.
    pub fn conv2d_plan(&self, weight: &Tensor, bias: Option<&Tensor>, spec: &Conv2dSpec) -> Result<Conv2dPlan> {
        Ok(Conv2dPlan::new(self.arg(), weight.arg(), bias.map(|b| b.arg()), spec)?)
    }

    /// The checked sizes of [`conv_transpose2d`](Tensor::conv_transpose2d), as
    /// [`conv2d_plan`](Tensor::conv2d_plan).
    pub fn conv_transpose2d_plan(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        spec: &ConvTranspose2dSpec,
    ) -> Result<ConvTranspose2dPlan> {
        Ok(ConvTranspose2dPlan::new(self.arg(), weight.arg(), bias.map(|b| b.arg()), spec)?)
    }

    /// 2-D convolution (PyTorch's `conv2d`, a cross-correlation): `self` `[N, C, H, W]` or
    /// `[C, H, W]`, `weight` `[OC, C / groups, KH, KW]`, `bias` `[OC]`; the output is
    /// `[N, OC, OH, OW]` (or `[OC, OH, OW]`) with `OH = (H + 2p - d·(KH - 1) - 1) / s + 1`.
    /// Computed as im2col and one product per group, image by image on the CPU.
    ///
    /// ```
    /// use tessera_tensor::{Conv2dSpec, DType, Device, Tensor};
    /// let x = Tensor::ones([1, 1, 4, 4], DType::F32, &Device::Cpu)?;
    /// let w = Tensor::ones([2, 1, 3, 3], DType::F32, &Device::Cpu)?;
    /// let spec = Conv2dSpec { padding: [1, 1], ..Conv2dSpec::default() };
    /// let y = x.conv2d(&w, None, &spec)?;
    /// assert_eq!(y.dims(), [1, 2, 4, 4]);
    /// assert_eq!(y.to_vec::<f32>()?[..4], [4., 6., 6., 4.]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, spec: &Conv2dSpec) -> Result<Tensor> {
        let plan = self.conv2d_plan(weight, bias, spec)?;
        let b = bias.map(|b| b.storage());
        let y = Storage::conv2d(&plan, &self.storage(), &weight.storage(), b.as_deref())?;
        Ok(Tensor::from_storage(y, plan.out_shape))
    }

    /// The gradient of [`conv2d`](Tensor::conv2d) with respect to its images: `self` is the
    /// output's gradient `[N, OC, OH, OW]`, the result `[N, C, H, W]` with `image` = `[H, W]`
    /// (`col2im(Wᵀ · dy)` per image and group; also the forward of
    /// [`conv_transpose2d`](Tensor::conv_transpose2d)).
    pub fn conv2d_input_grad(&self, weight: &Tensor, spec: &Conv2dSpec, image: [usize; 2]) -> Result<Tensor> {
        let plan = Conv2dPlan::input_grad(self.arg(), weight.arg(), spec, image)?;
        let dx = Storage::conv2d_input_grad(&plan, &self.storage(), &weight.storage())?;
        Ok(Tensor::from_storage(dx, plan.out_shape))
    }

    /// The gradient of [`conv2d`](Tensor::conv2d) with respect to its weight: `self` is the
    /// images `[N, C, H, W]`, `dy` the output's gradient `[N, OC, OH, OW]`, the result
    /// `[OC, C / groups, KH, KW]` for `kernel` = `[KH, KW]` (`Σ_n dy · im2col(x)ᵀ` per group).
    pub fn conv2d_weight_grad(&self, dy: &Tensor, spec: &Conv2dSpec, kernel: [usize; 2]) -> Result<Tensor> {
        let plan = Conv2dPlan::weight_grad(self.arg(), dy.arg(), spec, kernel)?;
        let dw = Storage::conv2d_weight_grad(&plan, &self.storage(), &dy.storage())?;
        Ok(Tensor::from_storage(dw, plan.out_shape))
    }

    /// Transposed 2-D convolution (PyTorch's `conv_transpose2d`, the gradient of `conv2d` with
    /// respect to its input): `self` `[N, C, H, W]` or `[C, H, W]`, `weight`
    /// `[C, OC / groups, KH, KW]`, `bias` `[OC]`; the output is `[N, OC, HO, WO]` with
    /// `HO = (H - 1)·s - 2p + d·(KH - 1) + output_padding + 1`.
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        spec: &ConvTranspose2dSpec,
    ) -> Result<Tensor> {
        let plan = self.conv_transpose2d_plan(weight, bias, spec)?;
        let x = if plan.batched { self.clone() } else { self.unsqueeze(0)? };
        let y = x.pad_end(plan.extra)?.conv2d_input_grad(weight, &plan.conv, plan.image)?;
        let y = match bias {
            Some(b) => y.add(&b.reshape([b.elem_count(), 1, 1])?)?,
            None => y,
        };
        if plan.batched {
            Ok(y)
        } else {
            y.squeeze(0)
        }
    }

    /// `self` `[N, C, H, W]` with `extra` zero rows and columns appended.
    fn pad_end(&self, extra: [usize; 2]) -> Result<Tensor> {
        let mut x = self.clone();
        for (axis, &more) in extra.iter().enumerate() {
            if more > 0 {
                let mut dims = x.dims().to_vec();
                dims[2 + axis] = more;
                let zeros = Tensor::zeros(dims, x.dtype(), x.device())?;
                x = Tensor::cat(&[x, zeros], 2 + axis as isize)?;
            }
        }
        Ok(x)
    }
}
