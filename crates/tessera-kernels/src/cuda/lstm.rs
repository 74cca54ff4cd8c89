//! The fused LSTM cell, forward and backward (`kernels/lstm.cu`).

use super::buffer::CudaBuffer;
use super::launch::{elementwise, launch, sfx, strided, Args};
use super::source::LSTM;
use crate::cpu::lstm::{check_backward, check_forward};
use crate::Result;
use tessera_core::Layout;

/// The fused LSTM cell forward: `(h, c, acts)` from the gate pre-activations `x_gates` and
/// `h_gates` (`[batch, 4 * hidden]`, any layout) and `c_prev` (`[batch, hidden]`), with the
/// checks, values and errors of [`crate::cpu::lstm_cell`].
pub fn lstm_cell(
    x: &CudaBuffer,
    xl: &Layout,
    h: &CudaBuffer,
    hl: &Layout,
    c_prev: &CudaBuffer,
    cl: &Layout,
) -> Result<(CudaBuffer, CudaBuffer, CudaBuffer)> {
    let dtype = x.dtype();
    let (batch, hidden) = check_forward([dtype, h.dtype(), c_prev.dtype()], xl, hl, cl)?;
    let (dev, n) = (x.device(), batch * hidden);
    let h_out = CudaBuffer::alloc(dev, dtype, n)?;
    let c_out = CudaBuffer::alloc(dev, dtype, n)?;
    let acts = CudaBuffer::alloc(dev, dtype, 4 * n)?;
    if n > 0 {
        let args = Args::new()
            .u64(batch as u64)
            .u64(hidden as u64)
            .view(&strided(xl)?)
            .view(&strided(hl)?)
            .view(&strided(cl)?)
            .buf(x)
            .buf(h)
            .buf(c_prev)
            .buf(&h_out)
            .buf(&c_out)
            .buf(&acts);
        launch(dev, &LSTM, &format!("lstm_cell_{}", sfx(dtype)), elementwise(n), args)?;
    }
    Ok((h_out, c_out, acts))
}

/// The fused LSTM cell backward: `(d_gates, dc_prev)` from the forward's `acts`, `c_prev` and `c`
/// and the incoming gradients `dh` and `dc` (any layouts), as [`crate::cpu::lstm_cell_backward`].
pub fn lstm_cell_backward(
    acts: &CudaBuffer,
    al: &Layout,
    c_prev: &CudaBuffer,
    cpl: &Layout,
    c: &CudaBuffer,
    cl: &Layout,
    dh: &CudaBuffer,
    dhl: &Layout,
    dc: &CudaBuffer,
    dcl: &Layout,
) -> Result<(CudaBuffer, CudaBuffer)> {
    let dtype = acts.dtype();
    let dtypes = [dtype, c_prev.dtype(), c.dtype(), dh.dtype(), dc.dtype()];
    let (batch, hidden) = check_backward(dtypes, [al, cpl, cl, dhl, dcl])?;
    let (dev, n) = (acts.device(), batch * hidden);
    let d_gates = CudaBuffer::alloc(dev, dtype, 4 * n)?;
    let dc_prev = CudaBuffer::alloc(dev, dtype, n)?;
    if n > 0 {
        let args = Args::new()
            .u64(batch as u64)
            .u64(hidden as u64)
            .view(&strided(al)?)
            .view(&strided(cpl)?)
            .view(&strided(cl)?)
            .view(&strided(dhl)?)
            .view(&strided(dcl)?)
            .buf(acts)
            .buf(c_prev)
            .buf(c)
            .buf(dh)
            .buf(dc)
            .buf(&d_gates)
            .buf(&dc_prev);
        launch(dev, &LSTM, &format!("lstm_cell_backward_{}", sfx(dtype)), elementwise(n), args)?;
    }
    Ok((d_gates, dc_prev))
}
