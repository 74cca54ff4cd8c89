//! The GRU recurrence over a whole sequence: one kernel each way where the device has one, else
//! composed of products and elementwise ops.

use super::lstm::widened;
use super::Tensor;
use crate::{Result, Storage};
use tessera_core::Shape;
use tessera_kernels::plan::{GruSequenceBackwardPlan, GruSequencePlan};

impl Tensor {
    /// The GRU recurrence over a whole sequence, PyTorch's `nn.GRU` layer from its input
    /// projection on: `proj` is every step's `W_i x + b_i` (`[steps, batch, 3 * hidden]`, gate
    /// order reset, update, new), `h0` is `[batch, hidden]`, and `w_hh` and `b_hh` are the
    /// recurrent weight (`[3 * hidden, hidden]`, PyTorch's `weight_hh`) and bias. Each step is
    /// `r, z = σ(x_r + h_r), σ(x_z + h_z)`, `n = tanh(x_n + r h_n)`, `h' = n + z (h - n)` with
    /// `h_• = W_h• h + b_h•`.
    ///
    /// Returns `(out, acts)`, both contiguous: `out` (`[steps, batch, hidden]`) is every step's
    /// hidden state, and `acts` (`[steps, batch, 4 * hidden]`) every step's `[r, z, n, h_n]`,
    /// which [`Tensor::gru_sequence_backward`] takes.
    ///
    /// On the CPU one kernel runs the whole recurrence, writing each step's results into these
    /// buffers (on several threads, each owns a band of the batch's rows or of hidden units); on
    /// CUDA the steps are composed. f16 and bf16 run in f32, each result rounded once. Errors: an
    /// integer dtype, mixed dtypes or devices, no steps, or shapes that do not agree.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// // 1 step, batch 1, hidden 1; the recurrent weight and bias are zero, so r = z = n = 0.5
    /// // for pre-activations 0, 0 and atanh(0.5).
    /// let proj = Tensor::from_vec(vec![0f64, 0., 0.5f64.atanh()], [1, 1, 3], &dev)?;
    /// let h0 = Tensor::from_vec(vec![1.0f64], [1, 1], &dev)?;
    /// let (w_hh, b_hh) = (Tensor::zeros([3, 1], proj.dtype(), &dev)?, Tensor::zeros([3], proj.dtype(), &dev)?);
    /// let (out, acts) = Tensor::gru_sequence(&proj, &h0, &w_hh, &b_hh)?;
    /// // h' = n + z (h - n) = 0.5 + 0.5 * (1 - 0.5).
    /// assert!((out.to_vec::<f64>()?[0] - 0.75).abs() < 1e-12);
    /// assert_eq!(acts.dims(), [1, 1, 4]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn gru_sequence(proj: &Tensor, h0: &Tensor, w_hh: &Tensor, b_hh: &Tensor) -> Result<(Tensor, Tensor)> {
        let plan = GruSequencePlan::new([proj.arg(), h0.arg(), w_hh.arg(), b_hh.arg()])?;
        if let Some([p, h, w, b]) = widened(plan.dtype, [proj, h0, w_hh, b_hh])? {
            let (out, acts) = Tensor::gru_sequence(&p, &h, &w, &b)?;
            return Ok((out.to_dtype(plan.dtype)?, acts.to_dtype(plan.dtype)?));
        }
        let (steps, batch, hidden) = plan.dims();
        // The storages' read locks end here: the composed steps below take them again.
        let fused = {
            let parts = [&*proj.storage(), &*h0.storage(), &*w_hh.storage(), &*b_hh.storage()];
            Storage::gru_sequence(&plan, parts)?
        };
        if let Some([out, acts]) = fused {
            return Ok((
                Tensor::from_storage(out, [steps, batch, hidden]),
                Tensor::from_storage(acts, [steps, batch, 4 * hidden]),
            ));
        }
        // Transposed once: a product by a transposed view would repack it every step.
        let w_t = w_hh.t()?.contiguous()?;
        let mut h = h0.clone();
        let (mut hs, mut acts) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        for t in 0..steps {
            let gx = proj.narrow(0, t, 1)?.squeeze(0)?;
            let gh = h.matmul_bias(&w_t, b_hh)?;
            let rz = gx.narrow(1, 0, 2 * hidden)?.add(&gh.narrow(1, 0, 2 * hidden)?)?.sigmoid()?;
            let (r, z) = (rz.narrow(1, 0, hidden)?, rz.narrow(1, hidden, hidden)?);
            let h_n = gh.narrow(1, 2 * hidden, hidden)?;
            let n = gx.narrow(1, 2 * hidden, hidden)?.add(&r.mul(&h_n)?)?.tanh()?;
            h = n.add(&z.mul(&h.sub(&n)?)?)?;
            hs.push(h.clone());
            acts.push(Tensor::cat(&[rz, n, h_n], 1)?);
        }
        Ok((Tensor::stack(&hs, 0)?, Tensor::stack(&acts, 0)?))
    }

    /// Backpropagation through time of [`Tensor::gru_sequence`]: from its outputs `out` and
    /// `acts`, its inputs `h0` and `w_hh`, and `grad`, the gradient of `out` (`[steps, batch,
    /// hidden]`, any layout), returns `(d_proj, dh0, d_w_hh, d_b_hh)`, the gradients of `proj`,
    /// of the initial state, of the recurrent weight and of its bias. `dh0` costs a product as
    /// large as a step's and is `None` unless `want_dh0`. `d_proj` may be a view whose rows lie a
    /// little further apart than `3 * hidden` (where that many values would make a multiple of
    /// 4 KiB); the others are contiguous. Devices and errors as the forward.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// let proj = Tensor::from_vec(vec![0.1f64, -0.2, 0.3, 0.4, 0.5, -0.6], [2, 1, 3], &dev)?;
    /// let h0 = Tensor::zeros([1, 1], proj.dtype(), &dev)?;
    /// let w_hh = Tensor::from_vec(vec![0.5f64, -0.5, 0.25], [3, 1], &dev)?;
    /// let b_hh = Tensor::from_vec(vec![0.1f64, 0.2, 0.3], [3], &dev)?;
    /// let (out, acts) = Tensor::gru_sequence(&proj, &h0, &w_hh, &b_hh)?;
    /// let grad = Tensor::ones([2, 1, 1], proj.dtype(), &dev)?;
    /// let (d_proj, dh0, d_w_hh, d_b_hh) = Tensor::gru_sequence_backward(&out, &acts, &h0, &w_hh, &grad, true)?;
    /// assert_eq!((d_proj.dims(), dh0.expect("asked for").dims()), (&[2, 1, 3][..], &[1, 1][..]));
    /// assert_eq!((d_w_hh.dims(), d_b_hh.dims()), (&[3, 1][..], &[3][..]));
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn gru_sequence_backward(
        out: &Tensor,
        acts: &Tensor,
        h0: &Tensor,
        w_hh: &Tensor,
        grad: &Tensor,
        want_dh0: bool,
    ) -> Result<(Tensor, Option<Tensor>, Tensor, Tensor)> {
        let saved = [out, acts, h0, w_hh, grad];
        let plan = GruSequenceBackwardPlan {
            initial_hidden_grad: want_dh0,
            ..GruSequenceBackwardPlan::new(saved.map(Tensor::arg))?
        };
        if let Some([out, acts, h0, w_hh, grad]) = widened(plan.dtype, saved)? {
            let (d, dh0, d_w, d_b) = Tensor::gru_sequence_backward(&out, &acts, &h0, &w_hh, &grad, want_dh0)?;
            let narrow = |t: Tensor| t.to_dtype(plan.dtype);
            return Ok((narrow(d)?, dh0.map(narrow).transpose()?, narrow(d_w)?, narrow(d_b)?));
        }
        let (steps, batch, hidden) = plan.dims();
        let storages = saved.map(Tensor::storage);
        if let Some(([d, dh0, d_w, d_b], d_layout)) =
            Storage::gru_sequence_backward(&plan, storages.each_ref().map(|s| &**s))?
        {
            // The buffer holds `steps` blocks of `batch` rows, each as long as the row stride.
            let d_len = steps * d_layout.strides()[0];
            return Ok((
                Tensor::from_storage(d, [d_len]).with_layout(d_layout),
                want_dh0.then(|| Tensor::from_storage(dh0, Shape::new(vec![batch, hidden]))),
                Tensor::from_storage(d_w, [3 * hidden, hidden]),
                Tensor::from_storage(d_b, [3 * hidden]),
            ));
        }
        drop(storages);
        let at = |x: &Tensor, t: usize| x.narrow(0, t, 1)?.squeeze(0);
        let mut dh_carried: Option<Tensor> = None;
        let (mut d_proj, mut d_rec) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        for t in (0..steps).rev() {
            let a = at(acts, t)?;
            let (rz, r, z) = (a.narrow(1, 0, 2 * hidden)?, a.narrow(1, 0, hidden)?, a.narrow(1, hidden, hidden)?);
            let (n, h_n) = (a.narrow(1, 2 * hidden, hidden)?, a.narrow(1, 3 * hidden, hidden)?);
            let h_prev = if t > 0 { at(out, t - 1)? } else { h0.clone() };
            let dh = match &dh_carried {
                Some(carried) => at(grad, t)?.add(carried)?,
                None => at(grad, t)?,
            };
            let dh_z = dh.mul(&z)?;
            let dz = dh.mul(&h_prev.sub(&n)?)?;
            // Through tanh (1 - n^2) and, for the gates, σ (s (1 - s)).
            let dn = dh.sub(&dh_z)?.mul(&n.square()?.affine(-1.0, 1.0)?)?;
            let d_rz = Tensor::cat(&[dn.mul(&h_n)?, dz], 1)?.mul(&rz.mul(&rz.affine(-1.0, 1.0)?)?)?;
            let rec = Tensor::cat(&[d_rz.clone(), dn.mul(&r)?], 1)?;
            dh_carried = if t > 0 || want_dh0 { Some(rec.matmul(w_hh)?.add(&dh_z)?) } else { None };
            d_proj.push(Tensor::cat(&[d_rz, dn], 1)?);
            d_rec.push(rec);
        }
        d_proj.reverse();
        d_rec.reverse();
        let h_prev =
            Tensor::cat(&[h0.unsqueeze(0)?, out.narrow(0, 0, steps - 1)?], 0)?.reshape([steps * batch, hidden])?;
        let d_rec = Tensor::stack(&d_rec, 0)?.reshape([steps * batch, 3 * hidden])?;
        let d_w = d_rec.t()?.matmul(&h_prev)?;
        let d_b = d_rec.sum(&[0], false)?;
        Ok((Tensor::stack(&d_proj, 0)?, dh_carried, d_w, d_b))
    }
}
