//! The fused LSTM cell: one kernel for a time step's gates and state update, one for its
//! gradients; and the recurrence over a whole sequence, one kernel each way where the device has
//! one, else composed of the step kernels.

use super::Tensor;
use crate::{Result, Storage};
use tessera_core::{DType, Shape};
use tessera_kernels::plan::{LstmCellBackwardPlan, LstmCellPlan, LstmSequenceBackwardPlan, LstmSequencePlan};

/// `tensors` widened to f32 when their dtype is f16 or bf16, else `None`: the recurrences run
/// half-precision sequences in f32, as the step kernels compute, and round each result once.
pub(super) fn widened<const N: usize>(dtype: DType, tensors: [&Tensor; N]) -> Result<Option<[Tensor; N]>> {
    if !matches!(dtype, DType::F16 | DType::BF16) {
        return Ok(None);
    }
    let mut wide = Vec::with_capacity(N);
    for t in tensors {
        wide.push(t.to_dtype(DType::F32)?);
    }
    Ok(Some(wide.try_into().unwrap_or_else(|_| unreachable!("N tensors"))))
}

impl Tensor {
    /// One LSTM time step, fused: gate nonlinearities and state update in one pass over memory.
    ///
    /// `x_gates` and `h_gates` are the input and recurrent pre-activations, both
    /// `[batch, 4 * hidden]` in PyTorch's gate order i, f, g, o (biases already added); the kernel
    /// sums them. `c_prev` is the previous cell state, `[batch, hidden]`. Any layout is accepted
    /// (a step `proj.narrow(0, t, 1)?.squeeze(0)?` of a `[seq, batch, 4 * hidden]` projection, a
    /// transposed view); contiguous inputs are read in place.
    ///
    /// Returns `(h, c, acts)`, all contiguous: `c = f * c_prev + i * g` and `h = o * tanh(c)`
    /// (`[batch, hidden]`), and `acts = [sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)]`
    /// (`[batch, 4 * hidden]`), the activated gates [`Tensor::lstm_cell_backward`] needs.
    ///
    /// Float dtypes (f16 and bf16 compute in f32); in f32 and f64 the values equal those of the
    /// same formulas written with `add`, `sigmoid`, `tanh` and `mul`. Errors: an integer dtype,
    /// mixed dtypes or devices, gates not `[batch, 4 * hidden]` or of different shapes, `c_prev`
    /// not `[batch, hidden]`.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// // batch 1, hidden 2: pre-activations i = f = g = o = 0 for unit 0, and g = 10 for unit 1.
    /// let x = Tensor::from_vec(vec![0f64, 0., 0., 0., 0., 6., 0., 0.], [1, 8], &Device::Cpu)?;
    /// let h = Tensor::from_vec(vec![0f64, 0., 0., 0., 0., 4., 0., 0.], [1, 8], &Device::Cpu)?;
    /// let c_prev = Tensor::from_vec(vec![2f64, -2.], [1, 2], &Device::Cpu)?;
    /// let (h1, c1, acts) = Tensor::lstm_cell(&x, &h, &c_prev)?;
    /// // c = f * c_prev + i * g = 0.5 * c_prev + 0.5 * tanh(g); h = 0.5 * tanh(c)
    /// let c = [1.0, -1.0 + 0.5 * 10f64.tanh()];
    /// assert_eq!(c1.to_vec::<f64>()?, c);
    /// assert_eq!(h1.to_vec::<f64>()?, [0.5 * c[0].tanh(), 0.5 * c[1].tanh()]);
    /// assert_eq!(acts.to_vec::<f64>()?, [0.5, 0.5, 0.5, 0.5, 0.0, 10f64.tanh(), 0.5, 0.5]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn lstm_cell(x_gates: &Tensor, h_gates: &Tensor, c_prev: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let plan = LstmCellPlan::new(x_gates.arg(), h_gates.arg(), c_prev.arg())?;
        let parts = [&*x_gates.storage(), &*h_gates.storage(), &*c_prev.storage()];
        let [h, c, acts] = Storage::lstm_cell(&plan, parts)?;
        let state = c_prev.shape().clone();
        Ok((
            Tensor::from_storage(h, state.clone()),
            Tensor::from_storage(c, state),
            Tensor::from_storage(acts, x_gates.shape().clone()),
        ))
    }

    /// The gradients of one fused LSTM step ([`Tensor::lstm_cell`]).
    ///
    /// Takes the step's `acts` (`[batch, 4 * hidden]`), its previous and new cell states `c_prev`
    /// and `c`, and the gradients `dh` and `dc` reaching the new hidden and cell states (all
    /// `[batch, hidden]`, any layout: `dh` may be a `narrow` of a larger gradient). Returns
    /// `(d_gates, dc_prev)`: the gradient of the pre-activation gates (`[batch, 4 * hidden]`,
    /// order i, f, g, o; it is the gradient of `x_gates` and of `h_gates` alike) and of `c_prev`.
    ///
    /// With `tc = tanh(c)` (recomputed from `c`) and `dc' = dc + dh * o * (1 - tc^2)`:
    /// `d_i = dc' * g * i(1 - i)`, `d_f = dc' * c_prev * f(1 - f)`, `d_g = dc' * i * (1 - g^2)`,
    /// `d_o = dh * tc * o(1 - o)` and `dc_prev = dc' * f`. Dtypes and errors as the forward.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// let x = Tensor::from_vec(vec![0.1f64, -0.2, 0.3, 0.4], [1, 4], &dev)?;
    /// let c_prev = Tensor::from_vec(vec![0.5f64], [1, 1], &dev)?;
    /// let (_h, c, acts) = Tensor::lstm_cell(&x, &x.zeros_like()?, &c_prev)?;
    /// let (dh, dc) = (Tensor::ones([1, 1], x.dtype(), &dev)?, Tensor::zeros([1, 1], x.dtype(), &dev)?);
    /// let (d_gates, dc_prev) = Tensor::lstm_cell_backward(&acts, &c_prev, &c, &dh, &dc)?;
    /// assert_eq!(d_gates.dims(), [1, 4]);
    /// // dc_prev = dh * o * (1 - tanh(c)^2) * f
    /// let (a, c) = (acts.to_vec::<f64>()?, c.to_vec::<f64>()?[0]);
    /// let want = a[3] * (1.0 - c.tanh() * c.tanh()) * a[1];
    /// assert!((dc_prev.to_vec::<f64>()?[0] - want).abs() < 1e-15);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn lstm_cell_backward(
        acts: &Tensor,
        c_prev: &Tensor,
        c: &Tensor,
        dh: &Tensor,
        dc: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let plan = LstmCellBackwardPlan::new([acts.arg(), c_prev.arg(), c.arg(), dh.arg(), dc.arg()])?;
        let parts = [&*acts.storage(), &*c_prev.storage(), &*c.storage(), &*dh.storage(), &*dc.storage()];
        let [d_gates, dc_prev] = Storage::lstm_cell_backward(&plan, parts)?;
        Ok((Tensor::from_storage(d_gates, acts.shape().clone()), Tensor::from_storage(dc_prev, c_prev.shape().clone())))
    }

    /// The LSTM recurrence over a whole sequence from `(h0, c0)`: `proj` is every step's input
    /// projection (`[steps, batch, 4 * hidden]`, both biases included, gate order i, f, g, o),
    /// `h0` and `c0` are `[batch, hidden]` and `w_hh` is the recurrent weight
    /// (`[4 * hidden, hidden]`, PyTorch's `weight_hh`). Each step is
    /// [`Tensor::lstm_cell`]`(proj[t], h @ w_hhᵀ, c)`.
    ///
    /// Returns `(out, cells, acts)`, all contiguous: `out` is `[steps + 1, batch, hidden]`, every
    /// step's hidden state followed by the last cell state; `cells` (`[steps, batch, hidden]`) and
    /// `acts` (`[steps, batch, 4 * hidden]`) are every step's cell state and activated gates,
    /// which [`Tensor::lstm_sequence_backward`] takes.
    ///
    /// On the CPU one kernel runs the whole recurrence, writing each step's results into these
    /// buffers (on several threads, each owns a band of the batch's rows or of hidden units); on
    /// CUDA the step kernels are composed. f16 and bf16 run in f32, each result rounded once.
    /// Errors: an integer dtype, mixed dtypes or devices, no steps, or shapes that do not agree.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// // 2 steps, batch 1, hidden 1; the recurrent weight is zero, so the steps only share c.
    /// let proj = Tensor::from_vec(vec![0f64, 0., 0., 0., 0., 0., 0., 0.], [2, 1, 4], &dev)?;
    /// let (h0, c0) = (Tensor::zeros([1, 1], proj.dtype(), &dev)?, Tensor::ones([1, 1], proj.dtype(), &dev)?);
    /// let w_hh = Tensor::zeros([4, 1], proj.dtype(), &dev)?;
    /// let (out, cells, acts) = Tensor::lstm_sequence(&proj, &h0, &c0, &w_hh)?;
    /// // Every gate is sigmoid(0) = 0.5 or tanh(0) = 0: c = 0.5 * c_prev, h = 0.5 * tanh(c).
    /// assert_eq!(cells.to_vec::<f64>()?, [0.5, 0.25]);
    /// assert_eq!(out.to_vec::<f64>()?, [0.5 * 0.5f64.tanh(), 0.5 * 0.25f64.tanh(), 0.25]);
    /// assert_eq!(acts.dims(), [2, 1, 4]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn lstm_sequence(proj: &Tensor, h0: &Tensor, c0: &Tensor, w_hh: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let plan = LstmSequencePlan::new([proj.arg(), h0.arg(), c0.arg(), w_hh.arg()])?;
        if let Some([p, h, c, w]) = widened(plan.dtype, [proj, h0, c0, w_hh])? {
            let (out, cells, acts) = Tensor::lstm_sequence(&p, &h, &c, &w)?;
            return Ok((out.to_dtype(plan.dtype)?, cells.to_dtype(plan.dtype)?, acts.to_dtype(plan.dtype)?));
        }
        let (steps, batch, hidden) = plan.dims();
        // The storages' read locks end here: the composed steps below take them again.
        let fused = {
            let parts = [&*proj.storage(), &*h0.storage(), &*c0.storage(), &*w_hh.storage()];
            Storage::lstm_sequence(&plan, parts)?
        };
        if let Some([out, cells, acts]) = fused {
            return Ok((
                Tensor::from_storage(out, [steps + 1, batch, hidden]),
                Tensor::from_storage(cells, [steps, batch, hidden]),
                Tensor::from_storage(acts, [steps, batch, 4 * hidden]),
            ));
        }
        // Transposed once: a product by a transposed view would repack it every step.
        let w_t = w_hh.t()?.contiguous()?;
        let (mut h, mut c) = (h0.clone(), c0.clone());
        let (mut hs, mut cells, mut acts) = (Vec::with_capacity(steps + 1), Vec::new(), Vec::new());
        for t in 0..steps {
            let (h_next, c_next, a) = Tensor::lstm_cell(&proj.narrow(0, t, 1)?.squeeze(0)?, &h.matmul(&w_t)?, &c)?;
            (h, c) = (h_next, c_next);
            hs.push(h.clone());
            cells.push(c.clone());
            acts.push(a);
        }
        hs.push(c);
        Ok((Tensor::stack(&hs, 0)?, Tensor::stack(&cells, 0)?, Tensor::stack(&acts, 0)?))
    }

    /// Backpropagation through time of [`Tensor::lstm_sequence`]: from its outputs `out`,
    /// `cells` and `acts`, its inputs `h0`, `c0` and `w_hh`, and `grad`, the gradient of `out`
    /// (`[steps + 1, batch, hidden]`, any layout), returns `(d_proj, dh0, dc0, d_w_hh)`, the
    /// gradients of `proj` (which is every step's gate gradient), of the initial states and of
    /// the recurrent weight. `dh0` costs a product as large as a step's and is `None` unless
    /// `want_dh0` (an initial state that is a constant needs none). `d_proj` may be a view whose
    /// rows lie a little further apart than `4 * hidden` (where that many values would make a
    /// multiple of 4 KiB, which slows the products that read it down its columns); the others
    /// are contiguous. Each step is
    /// [`Tensor::lstm_cell_backward`], with the hidden state's gradient carried back through
    /// `w_hh`. Devices and errors as the forward.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// let proj = Tensor::from_vec(vec![0.1f64, -0.2, 0.3, 0.4, 0.5, 0.6, -0.7, 0.8], [2, 1, 4], &dev)?;
    /// let (h0, c0) = (Tensor::zeros([1, 1], proj.dtype(), &dev)?, Tensor::ones([1, 1], proj.dtype(), &dev)?);
    /// let w_hh = Tensor::from_vec(vec![0.5f64, -0.5, 0.25, 1.0], [4, 1], &dev)?;
    /// let (out, cells, acts) = Tensor::lstm_sequence(&proj, &h0, &c0, &w_hh)?;
    /// let grad = Tensor::ones([3, 1, 1], proj.dtype(), &dev)?;
    /// let (d_proj, dh0, dc0, d_w_hh) = Tensor::lstm_sequence_backward(&out, &cells, &acts, &h0, &c0, &w_hh, &grad, true)?;
    /// let dh0 = dh0.expect("asked for");
    /// assert_eq!((d_proj.dims(), dh0.dims(), dc0.dims(), d_w_hh.dims()), (&[2, 1, 4][..], &[1, 1][..], &[1, 1][..], &[4, 1][..]));
    /// // h0 is 0, so only step 1's product adds to the weight's gradient: d_w_hh = d_proj[1]ᵀ h_1.
    /// let (d, h1) = (d_proj.to_vec::<f64>()?, out.to_vec::<f64>()?[0]);
    /// assert_eq!(d_w_hh.to_vec::<f64>()?, d[4..].iter().map(|g| g * h1).collect::<Vec<_>>());
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn lstm_sequence_backward(
        out: &Tensor,
        cells: &Tensor,
        acts: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
        w_hh: &Tensor,
        grad: &Tensor,
        want_dh0: bool,
    ) -> Result<(Tensor, Option<Tensor>, Tensor, Tensor)> {
        let saved = [out, cells, acts, h0, c0, w_hh, grad];
        let plan = LstmSequenceBackwardPlan {
            initial_hidden_grad: want_dh0,
            ..LstmSequenceBackwardPlan::new(saved.map(Tensor::arg))?
        };
        if let Some([out, cells, acts, h0, c0, w_hh, grad]) = widened(plan.dtype, saved)? {
            let (d, dh0, dc0, d_w) =
                Tensor::lstm_sequence_backward(&out, &cells, &acts, &h0, &c0, &w_hh, &grad, want_dh0)?;
            let narrow = |t: Tensor| t.to_dtype(plan.dtype);
            return Ok((narrow(d)?, dh0.map(narrow).transpose()?, narrow(dc0)?, narrow(d_w)?));
        }
        let (steps, batch, hidden) = plan.dims();
        let storages = saved.map(Tensor::storage);
        if let Some(([d, dh0, dc0, d_w], d_layout)) =
            Storage::lstm_sequence_backward(&plan, storages.each_ref().map(|s| &**s))?
        {
            let state = Shape::new(vec![batch, hidden]);
            // The buffer holds `steps` blocks of `batch` rows, each as long as the row stride.
            let d_len = steps * d_layout.strides()[0];
            return Ok((
                Tensor::from_storage(d, [d_len]).with_layout(d_layout),
                want_dh0.then(|| Tensor::from_storage(dh0, state.clone())),
                Tensor::from_storage(dc0, state),
                Tensor::from_storage(d_w, [4 * hidden, hidden]),
            ));
        }
        drop(storages);
        let at = |x: &Tensor, t: usize| x.narrow(0, t, 1)?.squeeze(0);
        let mut dc = at(grad, steps)?;
        let mut dh_carried: Option<Tensor> = None;
        let mut d_steps = Vec::with_capacity(steps);
        for t in (0..steps).rev() {
            let c_prev = if t > 0 { at(cells, t - 1)? } else { c0.clone() };
            let dh = match &dh_carried {
                Some(carried) => at(grad, t)?.add(carried)?,
                None => at(grad, t)?,
            };
            let (d, dc_prev) = Tensor::lstm_cell_backward(&at(acts, t)?, &c_prev, &at(cells, t)?, &dh, &dc)?;
            dh_carried = if t > 0 || want_dh0 { Some(d.matmul(w_hh)?) } else { None };
            dc = dc_prev;
            d_steps.push(d);
        }
        d_steps.reverse();
        let d_proj = Tensor::stack(&d_steps, 0)?;
        let h_prev =
            Tensor::cat(&[h0.unsqueeze(0)?, out.narrow(0, 0, steps - 1)?], 0)?.reshape([steps * batch, hidden])?;
        let d_w = d_proj.reshape([steps * batch, 4 * hidden])?.t()?.matmul(&h_prev)?;
        Ok((d_proj, dh_carried, dc, d_w))
    }
}
