//! Batch normalisation against naive f64 loops (training and eval, with and without weight and
//! bias, `[N, C]` and `[N, C, *]`, strided views, every float dtype), and its bad input.

use tessera_tensor::{DType, Device, Result, Tensor};

struct Reference {
    y: Vec<f64>,
    saved: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

/// The textbook formulas, loop by loop, for `x` `[n, c, inner]`, output gradient `g`.
#[allow(clippy::too_many_arguments)]
fn reference(
    x: &[f64],
    g: &[f64],
    dims: [usize; 3],
    w: &[f64],
    b: &[f64],
    run: (&[f64], &[f64]),
    training: bool,
    eps: f64,
) -> Reference {
    let [n, c, inner] = dims;
    let m = (n * inner) as f64;
    let at = |bn: usize, ch: usize, q: usize| (bn * c + ch) * inner + q;
    let mut r = Reference {
        y: vec![0.0; x.len()],
        saved: vec![0.0; 3 * c],
        dx: vec![0.0; x.len()],
        dw: vec![0.0; c],
        db: vec![0.0; c],
    };
    for ch in 0..c {
        let vals: Vec<usize> = (0..n).flat_map(|bn| (0..inner).map(move |q| at(bn, ch, q))).collect();
        let (mean, var) = if training {
            let mean = vals.iter().map(|&i| x[i]).sum::<f64>() / m;
            (mean, vals.iter().map(|&i| (x[i] - mean).powi(2)).sum::<f64>() / m)
        } else {
            (run.0[ch], run.1[ch])
        };
        let invstd = 1.0 / (var + eps).sqrt();
        r.saved[ch] = mean;
        r.saved[c + ch] = invstd;
        r.saved[2 * c + ch] = if training { var * m / (m - 1.0) } else { var };
        let xhat = |i: usize| (x[i] - mean) * invstd;
        for &i in &vals {
            r.y[i] = xhat(i) * w[ch] + b[ch];
        }
        r.db[ch] = vals.iter().map(|&i| g[i]).sum();
        r.dw[ch] = vals.iter().map(|&i| g[i] * xhat(i)).sum();
        for &i in &vals {
            r.dx[i] = if training {
                w[ch] * invstd / m * (m * g[i] - r.db[ch] - xhat(i) * r.dw[ch])
            } else {
                w[ch] * invstd * g[i]
            };
        }
    }
    r
}

fn values(n: usize, seed: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|i| lo + (hi - lo) * (((i + seed) * 7919 % 1013) as f64 / 1013.0)).collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: element {i}: got {g}, want {w}");
    }
}

fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-11,
        DType::F32 => 2e-5,
        DType::F16 => 1e-2,
        _ => 6e-2,
    }
}

#[test]
fn batch_norm_matches_the_naive_loops() -> Result<()> {
    let cpu = Device::Cpu;
    for dims in [vec![4, 3], vec![3, 2, 5], vec![2, 3, 4, 3]] {
        let (n, c) = (dims[0], dims[1]);
        let inner: usize = dims[2..].iter().product();
        let len = n * c * inner;
        // A large mean next to a small spread: the forward must not cancel catastrophically.
        let x = values(len, 1, 95.0, 105.0);
        let g = values(len, 2, -1.0, 1.0);
        let (w, b) = (values(c, 3, 0.5, 1.5), values(c, 4, -1.0, 1.0));
        let (rm, rv) = (values(c, 5, 95.0, 105.0), values(c, 6, 0.5, 8.0));
        for training in [true, false] {
            for (has_w, has_b) in [(true, true), (false, false), (true, false)] {
                let ones = vec![1.0; c];
                let zeros = vec![0.0; c];
                let (wr, br) = (if has_w { &w } else { &ones }, if has_b { &b } else { &zeros });
                let want = reference(&x, &g, [n, c, inner], wr, br, (&rm, &rv), training, 1e-5);
                for dtype in [DType::F64, DType::F32, DType::F16, DType::BF16] {
                    let what = format!("batch_norm {dims:?} training {training} weight {has_w} bias {has_b} {dtype}");
                    let mk = |v: &[f64], d: &[usize]| -> Result<Tensor> {
                        Tensor::from_vec(v.to_vec(), d.to_vec(), &cpu)?.to_dtype(dtype)
                    };
                    // x through a transposed view of a stored [C, N, ...] tensor.
                    let mut stored = dims.clone();
                    stored.swap(0, 1);
                    let xt = mk(&x, &dims)?.transpose(0, 1)?.contiguous()?.reshape(stored)?.transpose(0, 1)?;
                    let (wt, bt, rmt, rvt) = (mk(&w, &[c])?, mk(&b, &[c])?, mk(&rm, &[c])?, mk(&rv, &[c])?);
                    let (wo, bo) = (has_w.then_some(&wt), has_b.then_some(&bt));
                    // The narrow dtypes round x itself: compare them after centring, where it matters.
                    let (y, saved) = xt.batch_norm(wo, bo, Some((&rmt, &rvt)), training, 1e-5)?;
                    if dtype == DType::F64 || dtype == DType::F32 {
                        assert_close(&format!("{what}: y"), &y.to_vec_f64()?, &want.y, tol(dtype) * 100.0);
                        assert_close(&format!("{what}: saved"), &saved.to_vec_f64()?, &want.saved, tol(dtype) * 100.0);
                    }
                    let xr = xt.to_vec_f64()?;
                    let (wr2, br2, rm2, rv2) =
                        (wt.to_vec_f64()?, bt.to_vec_f64()?, rmt.to_vec_f64()?, rvt.to_vec_f64()?);
                    let wr2 = if has_w { wr2 } else { ones.clone() };
                    let br2 = if has_b { br2 } else { zeros.clone() };
                    let gr = mk(&g, &dims)?;
                    let want =
                        reference(&xr, &gr.to_vec_f64()?, [n, c, inner], &wr2, &br2, (&rm2, &rv2), training, 1e-5);
                    assert_close(&format!("{what}: y"), &y.to_vec_f64()?, &want.y, tol(dtype));
                    assert_close(&format!("{what}: saved"), &saved.to_vec_f64()?, &want.saved, tol(dtype).max(1e-6));
                    let (dx, dw, db) = Tensor::batch_norm_backward(&xt, wo, &gr, &saved, training)?;
                    assert_close(&format!("{what}: dx"), &dx.to_vec_f64()?, &want.dx, tol(dtype));
                    let scale = (n * inner) as f64;
                    assert_close(&format!("{what}: dweight"), &dw.to_vec_f64()?, &want.dw, tol(dtype) * scale);
                    assert_close(&format!("{what}: dbias"), &db.to_vec_f64()?, &want.db, tol(dtype) * scale);
                }
            }
        }
    }
    Ok(())
}

fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn bad_batch_norm_input_is_an_error_naming_the_shapes() -> Result<()> {
    let cpu = Device::Cpu;
    let x = Tensor::zeros([4, 3, 2], DType::F32, &cpu)?;
    let (c3, c2) = (Tensor::ones([3], DType::F32, &cpu)?, Tensor::ones([2], DType::F32, &cpu)?);
    assert_eq!(
        message(x.batch_norm(Some(&c2), None, None, true, 1e-5)),
        "batch_norm: the weight has shape [2], expected [3] for input [4, 3, 2]"
    );
    assert_eq!(
        message(x.batch_norm(None, Some(&c2), None, true, 1e-5)),
        "batch_norm: the bias has shape [2], expected [3] for input [4, 3, 2]"
    );
    assert_eq!(
        message(x.batch_norm(None, None, Some((&c3, &c2)), false, 1e-5)),
        "batch_norm: the running var has shape [2], expected [3] for input [4, 3, 2]"
    );
    assert_eq!(
        message(x.batch_norm(None, None, None, false, 1e-5)),
        "batch_norm: eval mode (training = false) needs the running mean and variance"
    );
    for dims in [vec![1, 3], vec![1, 3, 1]] {
        let one = Tensor::zeros(dims.clone(), DType::F32, &cpu)?;
        let e = message(one.batch_norm(None, None, None, true, 1e-5));
        assert_eq!(
            e,
            format!("batch_norm: Expected more than 1 value per channel when training, got input size {}", one.shape())
        );
        // Eval mode normalises a single value fine.
        assert!(one.batch_norm(None, None, Some((&c3, &c3)), false, 1e-5).is_ok());
    }
    assert_eq!(
        message(c3.batch_norm(None, None, None, true, 1e-5)),
        "batch_norm: expects an [N, C] or [N, C, *] input, got shape [3]"
    );
    assert!(message(x.batch_norm(Some(&c3.to_dtype(DType::F64)?), None, None, true, 1e-5))
        .contains("dtype mismatch, f32 vs f64"));
    assert!(message(x.batch_norm(None, None, None, true, -1.0)).contains("eps -1"));
    let (y, saved) = x.batch_norm(None, None, None, true, 1e-5)?;
    let e = message(Tensor::batch_norm_backward(&x, None, &y.narrow(0, 0, 2)?, &saved, true));
    assert!(e.contains("batch_norm_backward: shape mismatch, [4, 3, 2] vs [2, 3, 2]"), "{e}");
    let e = message(Tensor::batch_norm_backward(&x, None, &y, &saved.narrow(0, 0, 2)?, true));
    assert!(e.contains("saved statistics have shape [2, 3], expected [3, 3]"), "{e}");
    Ok(())
}
