//! The LSTM recurrence over a sequence (`Tensor::lstm_sequence`, `Tensor::lstm_sequence_backward`):
//! the CPU's sequence kernel against the step kernels composed by hand, from strided inputs; the
//! half-precision dtypes, which run in f32; and the errors.

mod common;

use common::sequence::{assert_close, assert_half_dtypes_run_in_f32, tensor};
use tessera_tensor::{DType, Device, Result, Tensor};

const CPU: Device = Device::Cpu;

/// The recurrence written with the step kernels: `[out, cells, acts]` and
/// `[d_proj, dh0, dc0, d_w_hh]`.
fn composed(proj: &Tensor, h0: &Tensor, c0: &Tensor, w: &Tensor, grad: &Tensor) -> Result<[Tensor; 7]> {
    let steps = proj.dims()[0];
    let w_t = w.t()?;
    let (mut h, mut c) = (h0.clone(), c0.clone());
    let (mut hs, mut cs, mut acts) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..steps {
        let (h1, c1, a) = Tensor::lstm_cell(&proj.narrow(0, t, 1)?.squeeze(0)?, &h.matmul(&w_t)?, &c)?;
        (h, c) = (h1, c1);
        hs.push(h.clone());
        cs.push(c.clone());
        acts.push(a);
    }
    let at = |x: &Tensor, t: usize| x.narrow(0, t, 1)?.squeeze(0);
    let (mut dc, mut carried) = (at(grad, steps)?, None::<Tensor>);
    let mut d_steps = Vec::new();
    let mut d_w = Tensor::zeros(w.dims().to_vec(), w.dtype(), &CPU)?;
    for t in (0..steps).rev() {
        let dh = match &carried {
            Some(next) => at(grad, t)?.add(next)?,
            None => at(grad, t)?,
        };
        let c_prev = if t > 0 { cs[t - 1].clone() } else { c0.clone() };
        let (d, dc_prev) = Tensor::lstm_cell_backward(&acts[t], &c_prev, &cs[t], &dh, &dc)?;
        let h_prev = if t > 0 { &hs[t - 1] } else { h0 };
        d_w = d_w.add(&d.t()?.matmul(h_prev)?)?;
        carried = Some(d.matmul(w)?);
        dc = dc_prev;
        d_steps.push(d);
    }
    d_steps.reverse();
    hs.push(c);
    let out = Tensor::stack(&hs, 0)?;
    Ok([out, Tensor::stack(&cs, 0)?, Tensor::stack(&acts, 0)?, Tensor::stack(&d_steps, 0)?, carried.unwrap(), dc, d_w])
}

fn run(proj: &Tensor, h0: &Tensor, c0: &Tensor, w: &Tensor, grad: &Tensor) -> Result<[Tensor; 7]> {
    let (out, cells, acts) = Tensor::lstm_sequence(proj, h0, c0, w)?;
    let (d, dh0, dc0, d_w) = Tensor::lstm_sequence_backward(&out, &cells, &acts, h0, c0, w, grad, true)?;
    Ok([out, cells, acts, d, dh0.expect("asked for"), dc0, d_w])
}

const NAMES: [&str; 7] = ["out", "cells", "acts", "d_proj", "dh0", "dc0", "d_w_hh"];

/// Every input a view (the projection a transposed buffer, the states narrowed, the gradient a
/// step of a larger stack), in f64 and f32, against the composed steps.
#[test]
fn the_kernel_matches_the_composed_steps_from_views() -> Result<()> {
    let (steps, b, h) = (3, 4, 10);
    for dtype in [DType::F64, DType::F32] {
        let proj = tensor(&[4 * h, b, steps], 1, -2.0, 2.0).to_dtype(dtype)?.permute(&[2, 1, 0])?;
        let h0 = tensor(&[b, h + 2], 2, -1.0, 1.0).to_dtype(dtype)?.narrow(1, 1, h)?;
        let c0 = tensor(&[b, h + 2], 3, -2.0, 2.0).to_dtype(dtype)?.narrow(1, 2, h)?;
        let w = tensor(&[4 * h, h], 4, -0.4, 0.4).to_dtype(dtype)?;
        let grad = tensor(&[2, steps + 1, b, h], 5, -1.0, 1.0).to_dtype(dtype)?.narrow(0, 1, 1)?.squeeze(0)?;
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        let (got, want) = (run(&proj, &h0, &c0, &w, &grad)?, composed(&proj, &h0, &c0, &w, &grad)?);
        for ((name, g), w) in NAMES.iter().zip(&got).zip(&want) {
            assert!(g.is_contiguous(), "{name} is contiguous");
            assert_close(&format!("{dtype} {name}"), g, w, tol);
        }
    }
    Ok(())
}

/// With 256 f32 units a row of gate gradients is 4 KiB, so `d_proj` comes back as a view whose
/// rows lie 1040 values apart: it equals the composed steps, and a bias gradient's sum and a
/// weight gradient's product read it as they read its contiguous copy.
#[test]
fn padded_gate_gradients_read_as_their_values() -> Result<()> {
    let (steps, b, h) = (2, 3, 256);
    let proj = tensor(&[steps, b, 4 * h], 1, -2.0, 2.0).to_dtype(DType::F32)?;
    let (h0, c0) =
        (tensor(&[b, h], 2, -1.0, 1.0).to_dtype(DType::F32)?, tensor(&[b, h], 3, -2.0, 2.0).to_dtype(DType::F32)?);
    let w = tensor(&[4 * h, h], 4, -0.05, 0.05).to_dtype(DType::F32)?;
    let grad = tensor(&[steps + 1, b, h], 5, -1.0, 1.0).to_dtype(DType::F32)?;
    let (got, want) = (run(&proj, &h0, &c0, &w, &grad)?, composed(&proj, &h0, &c0, &w, &grad)?);
    let d = &got[3];
    assert_eq!(d.layout().strides(), [b * 1040, 1040, 1]);
    assert_close("padded d_proj", d, &want[3], 1e-5);
    let dense = d.contiguous()?;
    assert_eq!(d.sum(&[0, 1], false)?.to_vec::<f32>()?, dense.sum(&[0, 1], false)?.to_vec::<f32>()?);
    let x = tensor(&[steps * b, 128], 6, -1.0, 1.0).to_dtype(DType::F32)?;
    let rows = |d: &Tensor| d.reshape([steps * b, 4 * h]);
    assert_close("dᵀ @ x", &rows(d)?.t()?.matmul(&x)?, &rows(&dense)?.t()?.matmul(&x)?, 1e-6);
    Ok(())
}

/// f16 and bf16 run in f32: the forward's results are the f32 kernel's on the widened inputs,
/// rounded once, bit for bit; the gradients (from the rounded results) agree with f32's to the
/// dtype's precision.
#[test]
fn half_dtypes_run_in_f32() -> Result<()> {
    let (steps, b, h) = (2, 3, 8);
    let inputs = [
        tensor(&[steps, b, 4 * h], 6, -2.0, 2.0),
        tensor(&[b, h], 7, -1.0, 1.0),
        tensor(&[b, h], 8, -1.0, 1.0),
        tensor(&[4 * h, h], 9, -0.3, 0.3),
        tensor(&[steps + 1, b, h], 10, -1.0, 1.0),
    ];
    assert_half_dtypes_run_in_f32(&inputs, &NAMES, 3, |x| run(&x[0], &x[1], &x[2], &x[3], &x[4]))
}

/// Without `h0`'s gradient, the kernel in f32 and in f16 (widened) returns `None` for it
/// and the other gradients bit for bit as with it.
#[test]
fn h0_gradient_only_when_asked_for() -> Result<()> {
    let (steps, b, h) = (3, 2, 8);
    for dtype in [DType::F32, DType::F16] {
        let dims: [&[usize]; 5] = [&[steps, b, 4 * h], &[b, h], &[b, h], &[4 * h, h], &[steps + 1, b, h]];
        let [proj, h0, c0, w, grad] =
            std::array::from_fn(|i| tensor(dims[i], 20 + i as u64, -0.5, 0.5).to_dtype(dtype).unwrap());
        let (out, cells, acts) = Tensor::lstm_sequence(&proj, &h0, &c0, &w)?;
        let with = Tensor::lstm_sequence_backward(&out, &cells, &acts, &h0, &c0, &w, &grad, true)?;
        let without = Tensor::lstm_sequence_backward(&out, &cells, &acts, &h0, &c0, &w, &grad, false)?;
        assert!(with.1.is_some() && without.1.is_none(), "{dtype}");
        for (name, (a, b)) in
            [("d_proj", (&with.0, &without.0)), ("dc0", (&with.2, &without.2)), ("d_w_hh", (&with.3, &without.3))]
        {
            assert_eq!(a.to_vec_f64()?, b.to_vec_f64()?, "{dtype} {name}");
        }
    }
    Ok(())
}

fn zeros(dims: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(dims.to_vec(), dtype, &CPU).unwrap()
}

fn forward_error(p: &Tensor, h: &Tensor, c: &Tensor, w: &Tensor) -> String {
    Tensor::lstm_sequence(p, h, c, w).map(drop).expect_err("must be an error").to_string()
}

#[test]
fn bad_operands_are_errors_naming_them() {
    let f = DType::F32;
    let (p, s, w) = (zeros(&[3, 2, 8], f), zeros(&[2, 2], f), zeros(&[8, 2], f));
    assert_eq!(
        forward_error(&zeros(&[0, 2, 8], f), &s, &s, &w),
        "lstm_sequence: proj has shape [0, 2, 8], expected [steps, batch, 4 * hidden] with at least one step"
    );
    assert_eq!(
        forward_error(&zeros(&[3, 2, 7], f), &s, &s, &w),
        "lstm_sequence: proj has shape [3, 2, 7], expected [steps, batch, 4 * hidden] with at least one step"
    );
    assert_eq!(forward_error(&p, &zeros(&[2, 3], f), &s, &w), "lstm_sequence: h0 has shape [2, 3], expected [2, 2]");
    assert_eq!(forward_error(&p, &s, &zeros(&[1, 2], f), &w), "lstm_sequence: c0 has shape [1, 2], expected [2, 2]");
    assert_eq!(forward_error(&p, &s, &s, &zeros(&[2, 8], f)), "lstm_sequence: w_hh has shape [2, 8], expected [8, 2]");
    let mixed = forward_error(&p, &s, &s, &zeros(&[8, 2], DType::F64));
    assert!(mixed.contains("lstm_sequence") && mixed.contains("f32") && mixed.contains("f64"), "{mixed}");
    let ints = forward_error(
        &zeros(&[3, 2, 8], DType::I64),
        &zeros(&[2, 2], DType::I64),
        &zeros(&[2, 2], DType::I64),
        &zeros(&[8, 2], DType::I64),
    );
    assert!(ints.contains("lstm_sequence") && ints.contains("i64"), "{ints}");

    let (out, cells, acts) = Tensor::lstm_sequence(&p, &s, &s, &w).unwrap();
    let grad_error = |g: &Tensor| {
        Tensor::lstm_sequence_backward(&out, &cells, &acts, &s, &s, &w, g, true)
            .map(drop)
            .expect_err("an error")
            .to_string()
    };
    assert_eq!(
        grad_error(&zeros(&[3, 2, 2], f)),
        "lstm_sequence_backward: grad has shape [3, 2, 2], expected [4, 2, 2]"
    );
    let short = Tensor::lstm_sequence_backward(&out, &cells.narrow(0, 0, 2).unwrap(), &acts, &s, &s, &w, &out, true);
    assert_eq!(
        short.map(drop).unwrap_err().to_string(),
        "lstm_sequence_backward: cells has shape [2, 2, 2], expected [3, 2, 2]"
    );
}
