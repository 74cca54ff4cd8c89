//! The fused LSTM cell: one kernel for a time step's gates and state update, one for its
//! gradients.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{LstmCellBackwardPlan, LstmCellPlan};

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
}
