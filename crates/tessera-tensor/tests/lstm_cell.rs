//! The fused LSTM cell (`Tensor::lstm_cell`, `Tensor::lstm_cell_backward`) against the same
//! formulas written with existing ops (add, sigmoid, tanh, mul, narrow, cat), over random batch
//! and hidden sizes (size 0 included) and strided inputs; the backward also against central
//! finite differences of a scalar loss; and the errors.

mod common;

use common::values;
use proptest::prelude::*;
use tessera_tensor::{DType, Device, Result, Tensor};

const CPU: Device = Device::Cpu;

/// How an input is laid out in memory.
#[derive(Debug, Clone, Copy)]
enum View {
    Contiguous,
    /// Stored transposed (`[cols, rows]`), viewed through `.t()`.
    Transposed,
    /// Stored with 3 extra columns, viewed through `narrow(1, 1, cols)`.
    Narrowed,
    /// Step 1 of a contiguous `[3, rows, cols]` stack: `narrow(0, 1, 1).squeeze(0)`.
    Step,
}

fn arb_view() -> impl Strategy<Value = View> {
    prop_oneof![Just(View::Contiguous), Just(View::Transposed), Just(View::Narrowed), Just(View::Step)]
}

/// A `[rows, cols]` tensor of `dtype` holding `values(seed, ..)` in `[lo, hi)`, laid out as `view`.
fn input(view: View, dtype: DType, rows: usize, cols: usize, seed: u64, lo: f64, hi: f64) -> Result<Tensor> {
    let v = |n| values(seed, n, lo, hi);
    let t = match view {
        View::Contiguous => Tensor::from_vec(v(rows * cols), [rows, cols], &CPU)?.to_dtype(dtype)?,
        View::Transposed => Tensor::from_vec(v(rows * cols), [cols, rows], &CPU)?.to_dtype(dtype)?.t()?,
        View::Narrowed => {
            Tensor::from_vec(v(rows * (cols + 3)), [rows, cols + 3], &CPU)?.to_dtype(dtype)?.narrow(1, 1, cols)?
        }
        View::Step => {
            Tensor::from_vec(v(3 * rows * cols), [3, rows, cols], &CPU)?.to_dtype(dtype)?.narrow(0, 1, 1)?.squeeze(0)?
        }
    };
    assert_eq!(t.dims(), [rows, cols]);
    Ok(t)
}

/// The forward written with unfused ops, as the LSTM layer did before the fused op.
fn reference_forward(x: &Tensor, h: &Tensor, c_prev: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let hs = c_prev.dims()[1];
    let pre = x.add(h)?;
    let i = pre.narrow(1, 0, hs)?.sigmoid()?;
    let f = pre.narrow(1, hs, hs)?.sigmoid()?;
    let g = pre.narrow(1, 2 * hs, hs)?.tanh()?;
    let o = pre.narrow(1, 3 * hs, hs)?.sigmoid()?;
    let c = f.mul(c_prev)?.add(&i.mul(&g)?)?;
    let h = o.mul(&c.tanh()?)?;
    Ok((h, c, Tensor::cat(&[i, f, g, o], 1)?))
}

/// `s * (1 - s)`, the sigmoid's derivative from its output.
fn sigmoid_grad(s: &Tensor) -> Result<Tensor> {
    s.mul(&s.affine(-1.0, 1.0)?)
}

/// The backward written with unfused ops.
fn reference_backward(
    acts: &Tensor,
    c_prev: &Tensor,
    c: &Tensor,
    dh: &Tensor,
    dc: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let hs = c_prev.dims()[1];
    let [i, f, g, o] = [0, 1, 2, 3].map(|k| acts.narrow(1, k * hs, hs));
    let (i, f, g, o) = (i?, f?, g?, o?);
    let tc = c.tanh()?;
    let d_o = dh.mul(&tc)?.mul(&sigmoid_grad(&o)?)?;
    let dc = dc.add(&dh.mul(&o)?.mul(&tc.square()?.affine(-1.0, 1.0)?)?)?;
    let d_i = dc.mul(&g)?.mul(&sigmoid_grad(&i)?)?;
    let d_g = dc.mul(&i)?.mul(&g.square()?.affine(-1.0, 1.0)?)?;
    let d_f = dc.mul(c_prev)?.mul(&sigmoid_grad(&f)?)?;
    Ok((Tensor::cat(&[d_i, d_f, d_g, d_o], 1)?, dc.mul(&f)?))
}

fn same(what: &str, got: &Tensor, want: &Tensor) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(got.dims(), want.dims(), "{}: shapes", what);
    prop_assert_eq!(got.dtype(), want.dtype(), "{}: dtypes", what);
    prop_assert!(got.is_contiguous(), "{}: result is contiguous", what);
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    for (k, (a, b)) in g.iter().zip(&w).enumerate() {
        prop_assert!(a.to_bits() == b.to_bits(), "{}: element {}: fused {}, unfused {}", what, k, a, b);
    }
    Ok(())
}

/// One case: sizes, the layout of every input, a value seed.
#[derive(Debug, Clone)]
struct Case {
    batch: usize,
    hidden: usize,
    views: [View; 5],
    seed: u64,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (0usize..5, 0usize..7, [arb_view(), arb_view(), arb_view(), arb_view(), arb_view()], any::<u64>())
        .prop_map(|(batch, hidden, views, seed)| Case { batch, hidden, views, seed })
}

impl Case {
    /// `(x_gates, h_gates, c_prev, dh, dc)`.
    fn inputs(&self, dtype: DType) -> Result<[Tensor; 5]> {
        let (b, h, v, s) = (self.batch, self.hidden, self.views, self.seed);
        Ok([
            input(v[0], dtype, b, 4 * h, s, -4.0, 4.0)?,
            input(v[1], dtype, b, 4 * h, s ^ 1, -4.0, 4.0)?,
            input(v[2], dtype, b, h, s ^ 2, -3.0, 3.0)?,
            input(v[3], dtype, b, h, s ^ 3, -1.0, 1.0)?,
            input(v[4], dtype, b, h, s ^ 4, -1.0, 1.0)?,
        ])
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// In f32 and f64 the fused op does the unfused ops' arithmetic in the same order: the values
    /// agree bit for bit.
    #[test]
    fn fused_matches_unfused_ops(case in arb_case()) {
        for dtype in [DType::F64, DType::F32] {
            let [x, hg, cp, dh, dc] = case.inputs(dtype).unwrap();
            let (h, c, acts) = Tensor::lstm_cell(&x, &hg, &cp).unwrap();
            let (wh, wc, wa) = reference_forward(&x, &hg, &cp).unwrap();
            same(&format!("{dtype} h"), &h, &wh)?;
            same(&format!("{dtype} c"), &c, &wc)?;
            same(&format!("{dtype} acts"), &acts, &wa)?;
            let (dg, dcp) = Tensor::lstm_cell_backward(&acts, &cp, &c, &dh, &dc).unwrap();
            let (wdg, wdcp) = reference_backward(&wa, &cp, &wc, &dh, &dc).unwrap();
            same(&format!("{dtype} d_gates"), &dg, &wdg)?;
            same(&format!("{dtype} dc_prev"), &dcp, &wdcp)?;
        }
    }

    /// f16 and bf16 compute in f32 and round once: the same values as the f32 op on the widened
    /// inputs, rounded.
    #[test]
    fn half_types_compute_in_f32(case in arb_case()) {
        for dtype in [DType::F16, DType::BF16] {
            let [x, hg, cp, dh, dc] = case.inputs(dtype).unwrap();
            let wide = |t: &Tensor| t.to_dtype(DType::F32).unwrap();
            let (h, c, acts) = Tensor::lstm_cell(&x, &hg, &cp).unwrap();
            let (wh, wc, wa) = Tensor::lstm_cell(&wide(&x), &wide(&hg), &wide(&cp)).unwrap();
            let narrow = |t: Tensor| t.to_dtype(dtype).unwrap();
            same(&format!("{dtype} h"), &h, &narrow(wh))?;
            same(&format!("{dtype} c"), &c, &narrow(wc))?;
            same(&format!("{dtype} acts"), &acts, &narrow(wa))?;
            let (dg, dcp) = Tensor::lstm_cell_backward(&acts, &cp, &c, &dh, &dc).unwrap();
            let (wdg, wdcp) =
                Tensor::lstm_cell_backward(&wide(&acts), &wide(&cp), &wide(&c), &wide(&dh), &wide(&dc)).unwrap();
            same(&format!("{dtype} d_gates"), &dg, &narrow(wdg))?;
            same(&format!("{dtype} dc_prev"), &dcp, &narrow(wdcp))?;
        }
    }
}

/// `sum(h * wh) + sum(c * wc)` after one fused step, in f64.
fn loss(x: &Tensor, hg: &Tensor, cp: &Tensor, wh: &Tensor, wc: &Tensor) -> f64 {
    let (h, c, _) = Tensor::lstm_cell(x, hg, cp).unwrap();
    h.mul(wh).unwrap().sum_all().unwrap().to_scalar_f64().unwrap()
        + c.mul(wc).unwrap().sum_all().unwrap().to_scalar_f64().unwrap()
}

/// `t` with element `k` (row-major) moved by `delta`.
fn nudged(t: &Tensor, k: usize, delta: f64) -> Tensor {
    let mut v = t.to_vec::<f64>().unwrap();
    v[k] += delta;
    Tensor::from_vec(v, t.dims().to_vec(), &CPU).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The backward is the gradient of the forward: with `dh = wh` and `dc = wc`, `d_gates` is
    /// the derivative of the loss above by `x_gates` and by `h_gates`, and `dc_prev` by `c_prev`.
    #[test]
    fn backward_matches_finite_differences(case in arb_case()) {
        let [x, hg, cp, wh, wc] = case.inputs(DType::F64).unwrap();
        let (_, c, acts) = Tensor::lstm_cell(&x, &hg, &cp).unwrap();
        let (dg, dcp) = Tensor::lstm_cell_backward(&acts, &cp, &c, &wh, &wc).unwrap();
        let eps = 1e-6;
        let (dg, dcp) = (dg.to_vec::<f64>().unwrap(), dcp.to_vec::<f64>().unwrap());
        for k in 0..x.elem_count() {
            for (name, which) in [("x_gates", 0), ("h_gates", 1)] {
                let at = |d| if which == 0 { loss(&nudged(&x, k, d), &hg, &cp, &wh, &wc) } else { loss(&x, &nudged(&hg, k, d), &cp, &wh, &wc) };
                let fd = (at(eps) - at(-eps)) / (2.0 * eps);
                prop_assert!((fd - dg[k]).abs() <= 1e-7 + 1e-6 * fd.abs(), "d {}[{}]: fused {}, finite differences {}", name, k, dg[k], fd);
            }
        }
        for k in 0..cp.elem_count() {
            let fd = (loss(&x, &hg, &nudged(&cp, k, eps), &wh, &wc) - loss(&x, &hg, &nudged(&cp, k, -eps), &wh, &wc)) / (2.0 * eps);
            prop_assert!((fd - dcp[k]).abs() <= 1e-7 + 1e-6 * fd.abs(), "d c_prev[{}]: fused {}, finite differences {}", k, dcp[k], fd);
        }
    }
}

#[test]
fn zero_sized_inputs_give_empty_outputs() -> Result<()> {
    for (b, h) in [(0, 3), (2, 0), (0, 0)] {
        let gates = Tensor::zeros([b, 4 * h], DType::F32, &CPU)?;
        let state = Tensor::zeros([b, h], DType::F32, &CPU)?;
        let (h1, c1, acts) = Tensor::lstm_cell(&gates, &gates, &state)?;
        assert_eq!((h1.dims(), c1.dims(), acts.dims()), ([b, h].as_slice(), [b, h].as_slice(), [b, 4 * h].as_slice()));
        let (dg, dcp) = Tensor::lstm_cell_backward(&acts, &state, &c1, &state, &state)?;
        assert_eq!((dg.dims(), dcp.dims()), ([b, 4 * h].as_slice(), [b, h].as_slice()));
    }
    Ok(())
}

fn t(dims: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(dims.to_vec(), dtype, &CPU).unwrap()
}

fn forward_error(x: &Tensor, h: &Tensor, c: &Tensor) -> String {
    Tensor::lstm_cell(x, h, c).map(drop).expect_err("must be an error").to_string()
}

fn backward_error(a: &Tensor, cp: &Tensor, c: &Tensor, dh: &Tensor, dc: &Tensor) -> String {
    Tensor::lstm_cell_backward(a, cp, c, dh, dc).map(drop).expect_err("must be an error").to_string()
}

#[test]
fn bad_shapes_are_errors_naming_them() {
    let f = DType::F32;
    let (g, s) = (t(&[2, 8], f), t(&[2, 2], f));
    assert_eq!(
        forward_error(&t(&[2, 7], f), &t(&[2, 7], f), &s),
        "lstm_cell: x_gates has shape [2, 7], expected [batch, 4 * hidden] (gate order i, f, g, o)"
    );
    assert_eq!(
        forward_error(&t(&[8], f), &t(&[8], f), &s),
        "lstm_cell: x_gates has shape [8], expected [batch, 4 * hidden] (gate order i, f, g, o)"
    );
    assert_eq!(forward_error(&g, &t(&[1, 8], f), &s), "lstm_cell: shape mismatch, [2, 8] vs [1, 8]");
    assert_eq!(
        forward_error(&g, &g, &t(&[2, 3], f)),
        "lstm_cell: c_prev has shape [2, 3], expected [2, 2] for x_gates of shape [2, 8]"
    );
    assert_eq!(
        backward_error(&g, &s, &s, &t(&[2, 2, 1], f), &s),
        "lstm_cell_backward: dh has shape [2, 2, 1], expected [2, 2] for acts of shape [2, 8]"
    );
    assert_eq!(
        backward_error(&t(&[2, 6], f), &s, &s, &s, &s),
        "lstm_cell_backward: acts has shape [2, 6], expected [batch, 4 * hidden] (gate order i, f, g, o)"
    );
    assert_eq!(
        backward_error(&g, &s, &s, &s, &t(&[3, 2], f)),
        "lstm_cell_backward: dc has shape [3, 2], expected [2, 2] for acts of shape [2, 8]"
    );
}

#[test]
fn bad_dtypes_are_errors_naming_them() {
    let (g, s) = (t(&[2, 8], DType::F32), t(&[2, 2], DType::F32));
    assert_eq!(forward_error(&g, &t(&[2, 8], DType::F64), &s), "lstm_cell: dtype mismatch, f32 vs f64");
    assert_eq!(forward_error(&g, &g, &t(&[2, 2], DType::BF16)), "lstm_cell: dtype mismatch, f32 vs bf16");
    assert_eq!(
        forward_error(&t(&[2, 8], DType::I64), &t(&[2, 8], DType::I64), &t(&[2, 2], DType::I64)),
        "lstm_cell: dtype i64 is not supported (cast to a float dtype first)"
    );
    assert_eq!(
        backward_error(&g, &s, &s, &t(&[2, 2], DType::F16), &s),
        "lstm_cell_backward: dtype mismatch, f32 vs f16"
    );
    assert_eq!(
        backward_error(&t(&[2, 8], DType::U8), &s, &s, &s, &s),
        "lstm_cell_backward: dtype u8 is not supported (cast to a float dtype first)"
    );
}
