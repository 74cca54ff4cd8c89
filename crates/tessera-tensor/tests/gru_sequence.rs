//! The GRU recurrence over a sequence (`Tensor::gru_sequence`, `Tensor::gru_sequence_backward`):
//! the CPU's sequence kernel against the recurrence written out with tensor ops, from strided
//! inputs; the half-precision dtypes, which run in f32; and the errors.

mod common;

use common::sequence::{assert_close, assert_half_dtypes_run_in_f32, tensor};
use tessera_tensor::{DType, Device, Result, Tensor};

const CPU: Device = Device::Cpu;

/// The recurrence written with tensor ops, PyTorch's formulas, and its gradients by hand:
/// `[out, d_proj, dh0, d_w_hh, d_b_hh]`.
fn written_out(proj: &Tensor, h0: &Tensor, w: &Tensor, bias: &Tensor, grad: &Tensor) -> Result<[Tensor; 5]> {
    let (steps, hidden) = (proj.dims()[0], h0.dims()[1]);
    let gate = |x: &Tensor, q: usize| x.narrow(1, q * hidden, hidden);
    let mut hs = vec![h0.clone()];
    let mut saved = Vec::new();
    for t in 0..steps {
        let x = proj.narrow(0, t, 1)?.squeeze(0)?;
        let rec = hs[t].matmul(&w.t()?)?.add(bias)?;
        let r = gate(&x, 0)?.add(&gate(&rec, 0)?)?.sigmoid()?;
        let z = gate(&x, 1)?.add(&gate(&rec, 1)?)?.sigmoid()?;
        let h_n = gate(&rec, 2)?;
        let n = gate(&x, 2)?.add(&r.mul(&h_n)?)?.tanh()?;
        // h' = (1 - z) n + z h
        hs.push(z.affine(-1.0, 1.0)?.mul(&n)?.add(&z.mul(&hs[t])?)?);
        saved.push((r, z, n, h_n));
    }
    let one_minus = |s: &Tensor| s.affine(-1.0, 1.0);
    let mut dh_next = Tensor::zeros(h0.dims().to_vec(), h0.dtype(), &CPU)?;
    let (mut d_w, mut d_b) = (w.zeros_like()?, bias.zeros_like()?);
    let mut d_proj = Vec::new();
    for t in (0..steps).rev() {
        let (r, z, n, h_n) = &saved[t];
        let dh = grad.narrow(0, t, 1)?.squeeze(0)?.add(&dh_next)?;
        let dn = dh.mul(&one_minus(z)?)?.mul(&one_minus(&n.square()?)?)?;
        let dz = dh.mul(&hs[t].sub(n)?)?.mul(&z.mul(&one_minus(z)?)?)?;
        let dr = dn.mul(h_n)?.mul(&r.mul(&one_minus(r)?)?)?;
        let d_rec = Tensor::cat(&[dr.clone(), dz.clone(), dn.mul(r)?], 1)?;
        d_w = d_w.add(&d_rec.t()?.matmul(&hs[t])?)?;
        d_b = d_b.add(&d_rec.sum(&[0], false)?)?;
        dh_next = d_rec.matmul(w)?.add(&dh.mul(z)?)?;
        d_proj.push(Tensor::cat(&[dr, dz, dn], 1)?);
    }
    d_proj.reverse();
    Ok([Tensor::stack(&hs[1..], 0)?, Tensor::stack(&d_proj, 0)?, dh_next, d_w, d_b])
}

fn run(proj: &Tensor, h0: &Tensor, w: &Tensor, bias: &Tensor, grad: &Tensor) -> Result<[Tensor; 5]> {
    let (out, acts) = Tensor::gru_sequence(proj, h0, w, bias)?;
    let (d, dh0, d_w, d_b) = Tensor::gru_sequence_backward(&out, &acts, h0, w, grad, true)?;
    Ok([out, d, dh0.expect("asked for"), d_w, d_b])
}

const NAMES: [&str; 5] = ["out", "d_proj", "dh0", "d_w_hh", "d_b_hh"];

/// Every input a view (the projection a permuted buffer, the state narrowed, the bias a strided
/// column, the gradient a step of a larger stack), in f64 and f32, against the written-out
/// recurrence; and the kernel's saved gates are those of the formulas.
#[test]
fn the_kernel_matches_the_written_out_recurrence_from_views() -> Result<()> {
    let (steps, b, h) = (3, 4, 10);
    for dtype in [DType::F64, DType::F32] {
        let proj = tensor(&[3 * h, b, steps], 1, -2.0, 2.0).to_dtype(dtype)?.permute(&[2, 1, 0])?;
        let h0 = tensor(&[b, h + 2], 2, -1.0, 1.0).to_dtype(dtype)?.narrow(1, 1, h)?;
        let w = tensor(&[3 * h, h], 3, -0.4, 0.4).to_dtype(dtype)?;
        let bias = tensor(&[3 * h, 2], 4, -0.5, 0.5).to_dtype(dtype)?.narrow(1, 1, 1)?.squeeze(1)?;
        let grad = tensor(&[2, steps, b, h], 5, -1.0, 1.0).to_dtype(dtype)?.narrow(0, 1, 1)?.squeeze(0)?;
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        let (got, want) = (run(&proj, &h0, &w, &bias, &grad)?, written_out(&proj, &h0, &w, &bias, &grad)?);
        for ((name, g), w) in NAMES.iter().zip(&got).zip(&want) {
            assert_close(&format!("{dtype} {name}"), g, w, tol);
        }
        // `acts[t] = [r, z, n, h_n]`: n is the hidden state's own candidate, so at step 0
        // h_1 = n + z (h0 - n).
        let (out, acts) = Tensor::gru_sequence(&proj, &h0, &w, &bias)?;
        let a0 = acts.narrow(0, 0, 1)?.squeeze(0)?;
        let (z, n) = (a0.narrow(1, h, h)?, a0.narrow(1, 2 * h, h)?);
        let h1 = n.add(&z.mul(&h0.sub(&n)?)?)?;
        assert_close(&format!("{dtype} h_1 from acts"), &out.narrow(0, 0, 1)?.squeeze(0)?, &h1, tol);
    }
    Ok(())
}

/// f16 and bf16 run in f32: the forward's results are the f32 kernel's on the widened inputs,
/// rounded once, bit for bit; the gradients (from the rounded results) agree with f32's to the
/// dtype's precision.
#[test]
fn half_dtypes_run_in_f32() -> Result<()> {
    let (steps, b, h) = (2, 3, 8);
    let inputs = [
        tensor(&[steps, b, 3 * h], 6, -2.0, 2.0),
        tensor(&[b, h], 7, -1.0, 1.0),
        tensor(&[3 * h, h], 8, -0.3, 0.3),
        tensor(&[3 * h], 9, -0.5, 0.5),
        tensor(&[steps, b, h], 10, -1.0, 1.0),
    ];
    assert_half_dtypes_run_in_f32(&inputs, &NAMES, 1, |x| run(&x[0], &x[1], &x[2], &x[3], &x[4]))
}

/// Without `h0`'s gradient, the kernel in f32 and in f16 (widened) returns `None` for it
/// and the other gradients bit for bit as with it.
#[test]
fn h0_gradient_only_when_asked_for() -> Result<()> {
    let (steps, b, h) = (3, 2, 8);
    for dtype in [DType::F32, DType::F16] {
        let dims: [&[usize]; 5] = [&[steps, b, 3 * h], &[b, h], &[3 * h, h], &[3 * h], &[steps, b, h]];
        let [proj, h0, w, bias, grad] =
            std::array::from_fn(|i| tensor(dims[i], 20 + i as u64, -0.5, 0.5).to_dtype(dtype).unwrap());
        let (out, acts) = Tensor::gru_sequence(&proj, &h0, &w, &bias)?;
        let with = Tensor::gru_sequence_backward(&out, &acts, &h0, &w, &grad, true)?;
        let without = Tensor::gru_sequence_backward(&out, &acts, &h0, &w, &grad, false)?;
        assert!(with.1.is_some() && without.1.is_none(), "{dtype}");
        for (name, (a, b)) in
            [("d_proj", (&with.0, &without.0)), ("d_w_hh", (&with.2, &without.2)), ("d_b_hh", (&with.3, &without.3))]
        {
            assert_eq!(a.to_vec_f64()?, b.to_vec_f64()?, "{dtype} {name}");
        }
    }
    Ok(())
}

fn zeros(dims: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(dims.to_vec(), dtype, &CPU).unwrap()
}

fn forward_error(p: &Tensor, h: &Tensor, w: &Tensor, b: &Tensor) -> String {
    Tensor::gru_sequence(p, h, w, b).map(drop).expect_err("must be an error").to_string()
}

#[test]
fn bad_operands_are_errors_naming_them() {
    let f = DType::F32;
    let (p, s, w, b) = (zeros(&[3, 2, 6], f), zeros(&[2, 2], f), zeros(&[6, 2], f), zeros(&[6], f));
    assert_eq!(
        forward_error(&zeros(&[0, 2, 6], f), &s, &w, &b),
        "gru_sequence: proj has shape [0, 2, 6], expected [steps, batch, 3 * hidden] with at least one step"
    );
    assert_eq!(
        forward_error(&zeros(&[3, 2, 7], f), &s, &w, &b),
        "gru_sequence: proj has shape [3, 2, 7], expected [steps, batch, 3 * hidden] with at least one step"
    );
    assert_eq!(forward_error(&p, &zeros(&[2, 3], f), &w, &b), "gru_sequence: h0 has shape [2, 3], expected [2, 2]");
    assert_eq!(forward_error(&p, &s, &zeros(&[2, 6], f), &b), "gru_sequence: w_hh has shape [2, 6], expected [6, 2]");
    assert_eq!(forward_error(&p, &s, &w, &zeros(&[4], f)), "gru_sequence: b_hh has shape [4], expected [6]");
    let mixed = forward_error(&p, &s, &w, &zeros(&[6], DType::F64));
    assert!(mixed.contains("gru_sequence") && mixed.contains("f32") && mixed.contains("f64"), "{mixed}");
    let i = DType::I64;
    let ints = forward_error(&zeros(&[3, 2, 6], i), &zeros(&[2, 2], i), &zeros(&[6, 2], i), &zeros(&[6], i));
    assert!(ints.contains("gru_sequence") && ints.contains("i64"), "{ints}");

    let (out, acts) = Tensor::gru_sequence(&p, &s, &w, &b).unwrap();
    let backward_error = |out: &Tensor, acts: &Tensor, g: &Tensor| {
        Tensor::gru_sequence_backward(out, acts, &s, &w, g, true).map(drop).expect_err("an error").to_string()
    };
    assert_eq!(
        backward_error(&out, &acts, &zeros(&[2, 2, 2], f)),
        "gru_sequence_backward: grad has shape [2, 2, 2], expected [3, 2, 2]"
    );
    assert_eq!(
        backward_error(&out, &acts.narrow(2, 0, 6).unwrap(), &out),
        "gru_sequence_backward: acts has shape [3, 2, 6], expected [steps, batch, 4 * hidden] with at least one step"
    );
}
