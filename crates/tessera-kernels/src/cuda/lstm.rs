//! The fused LSTM cell, forward and backward (`kernels/lstm.cu`).

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, strided, Args};
use super::source::LSTM;
use crate::plan::{LstmCellBackwardPlan, LstmCellPlan};
use crate::Result;

/// The fused LSTM cell forward from `[x, h, c_prev]`: `[h, c, acts]`, with the values of
/// [`crate::cpu::lstm_cell`].
pub fn lstm_cell(plan: &LstmCellPlan, inputs: [&CudaBuffer; 3]) -> Result<[CudaBuffer; 3]> {
    let (dev, n, dtype) = (inputs[0].device(), plan.batch * plan.hidden, plan.dtype);
    expect_dtype("lstm_cell", dtype, &inputs)?;
    let [x, h, c_prev] = inputs;
    let h_out = CudaBuffer::alloc(dev, dtype, n)?;
    let c_out = CudaBuffer::alloc(dev, dtype, n)?;
    let acts = CudaBuffer::alloc(dev, dtype, 4 * n)?;
    if n > 0 {
        let args = Args::new()
            .u64(plan.batch as u64)
            .u64(plan.hidden as u64)
            .view(&strided(&plan.x_gates)?)
            .view(&strided(&plan.h_gates)?)
            .view(&strided(&plan.c_prev)?)
            .buf(x)
            .buf(h)
            .buf(c_prev)
            .buf(&h_out)
            .buf(&c_out)
            .buf(&acts);
        launch(dev, &LSTM, &format!("lstm_cell_{}", dtype.as_str()), elementwise(n), args)?;
    }
    Ok([h_out, c_out, acts])
}

/// The fused LSTM cell backward: `[d_gates, dc_prev]` from `inputs` = `acts, c_prev, c, dh, dc`,
/// as [`crate::cpu::lstm_cell_backward`].
pub fn lstm_cell_backward(plan: &LstmCellBackwardPlan, inputs: [&CudaBuffer; 5]) -> Result<[CudaBuffer; 2]> {
    expect_dtype("lstm_cell_backward", plan.dtype, &inputs)?;
    let (dev, n, dtype) = (inputs[0].device(), plan.batch * plan.hidden, plan.dtype);
    let d_gates = CudaBuffer::alloc(dev, dtype, 4 * n)?;
    let dc_prev = CudaBuffer::alloc(dev, dtype, n)?;
    if n > 0 {
        let mut args = Args::new().u64(plan.batch as u64).u64(plan.hidden as u64);
        for l in &plan.inputs {
            args = args.view(&strided(l)?);
        }
        for b in inputs {
            args = args.buf(b);
        }
        let args = args.buf(&d_gates).buf(&dc_prev);
        launch(dev, &LSTM, &format!("lstm_cell_backward_{}", dtype.as_str()), elementwise(n), args)?;
    }
    Ok([d_gates, dc_prev])
}
