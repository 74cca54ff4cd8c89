//! Pooling (max, average, adaptive average) forward and backward against naive f64 loops written
//! from PyTorch's definitions, over configurations that exercise ceil mode, padding, dilation,
//! count_include_pad, divisor_override and adaptive sizes that do not divide the input; in every
//! float dtype, through strided views.

use tessera_tensor::{AvgPool2dSpec, DType, Device, MaxPool2dSpec, Result, Shape, Tensor};

/// PyTorch's `pooling_output_shape`.
fn out_len(input: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let num = (input + 2 * p) as i64 - (d * (k - 1)) as i64 - 1 + if ceil { s as i64 - 1 } else { 0 };
    let mut out = num.div_euclid(s as i64) + 1;
    if ceil && (out - 1) * s as i64 >= (input + p) as i64 {
        out -= 1;
    }
    out as usize
}

/// Values that are distinct (no ties), a function of the position.
fn input(dims: &[usize]) -> Vec<f64> {
    let n: usize = dims.iter().product();
    (0..n).map(|i| ((i * 7919 % 1009) as f64 - 504.0) / 97.0).collect()
}

fn weights(n: usize) -> Vec<f64> {
    (0..n).map(|i| ((i * 31 % 17) as f64 - 8.0) / 5.0).collect()
}

/// `(y, indices)` of max pooling, and the gradient of `Σ w · y`.
fn ref_max(x: &[f64], dims: [usize; 4], s: &MaxPool2dSpec, w: &[f64]) -> (Vec<f64>, Vec<i64>, Vec<f64>) {
    let [n, c, h, wd] = dims;
    let oh = out_len(h, s.kernel[0], s.stride[0], s.padding[0], s.dilation[0], s.ceil_mode);
    let ow = out_len(wd, s.kernel[1], s.stride[1], s.padding[1], s.dilation[1], s.ceil_mode);
    let (mut y, mut idx, mut dx) = (vec![], vec![], vec![0.0; x.len()]);
    for p in 0..n * c {
        for i in 0..oh {
            for j in 0..ow {
                let (mut best, mut at) = (f64::NEG_INFINITY, None);
                for a in 0..s.kernel[0] {
                    for b in 0..s.kernel[1] {
                        let r = (i * s.stride[0] + a * s.dilation[0]) as i64 - s.padding[0] as i64;
                        let q = (j * s.stride[1] + b * s.dilation[1]) as i64 - s.padding[1] as i64;
                        if r < 0 || q < 0 || r >= h as i64 || q >= wd as i64 {
                            continue;
                        }
                        let k = r as usize * wd + q as usize;
                        if at.is_none() || x[p * h * wd + k] > best {
                            (best, at) = (x[p * h * wd + k], Some(k));
                        }
                    }
                }
                let at = at.expect("every window reads the input");
                dx[p * h * wd + at] += w[y.len()];
                y.push(best);
                idx.push(at as i64);
            }
        }
    }
    (y, idx, dx)
}

/// Average pooling (`None` spec: adaptive to `adaptive`), and the gradient of `Σ w · y`.
fn ref_avg(
    x: &[f64],
    dims: [usize; 4],
    s: Option<&AvgPool2dSpec>,
    adaptive: [usize; 2],
    w: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let [n, c, h, wd] = dims;
    // Per axis: (start, end, padded length) of every window.
    let axis = |i: usize, len: usize| -> Vec<(usize, usize, usize)> {
        match s {
            Some(s) => (0..out_len(len, s.kernel[i], s.stride[i], s.padding[i], 1, s.ceil_mode))
                .map(|o| {
                    let start = (o * s.stride[i]) as i64 - s.padding[i] as i64;
                    let end = (start + s.kernel[i] as i64).min((len + s.padding[i]) as i64);
                    let padded = (end - start) as usize;
                    (start.max(0) as usize, end.min(len as i64) as usize, padded)
                })
                .collect(),
            None => (0..adaptive[i])
                .map(|o| {
                    let (a, b) = ((o * len) as f64 / adaptive[i] as f64, ((o + 1) * len) as f64 / adaptive[i] as f64);
                    let (a, b) = (a.floor() as usize, b.ceil() as usize);
                    (a, b, b - a)
                })
                .collect(),
        }
    };
    let (rows, cols) = (axis(0, h), axis(1, wd));
    let (mut y, mut dx) = (vec![], vec![0.0; x.len()]);
    for p in 0..n * c {
        for &(r0, r1, rp) in &rows {
            for &(c0, c1, cp) in &cols {
                let divisor = match s {
                    Some(AvgPool2dSpec { divisor_override: Some(d), .. }) => *d as f64,
                    Some(AvgPool2dSpec { count_include_pad: true, .. }) => (rp * cp) as f64,
                    _ => ((r1 - r0) * (c1 - c0)) as f64,
                };
                let g = w[y.len()] / divisor;
                let mut sum = 0.0;
                for r in r0..r1 {
                    for q in c0..c1 {
                        sum += x[p * h * wd + r * wd + q];
                        dx[p * h * wd + r * wd + q] += g;
                    }
                }
                y.push(sum / divisor);
            }
        }
    }
    (y, dx)
}

fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        DType::F32 => 1e-5,
        DType::F16 => 2e-3,
        _ => 1.6e-2,
    }
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: element {i}: got {g}, want {w}");
    }
}

/// The input as `dtype`, reached through a transposed view of a `[.., W, H]` tensor (and
/// unbatched when `n == 1` and `unbatched`).
fn tensor(x: &[f64], dims: [usize; 4], dtype: DType, unbatched: bool) -> Result<Tensor> {
    let [n, c, h, w] = dims;
    let t = Tensor::from_vec(x.to_vec(), [n, c, h, w], &Device::Cpu)?;
    let v = t.transpose(2, 3)?.contiguous()?.transpose(2, 3)?.to_dtype(dtype)?;
    if unbatched {
        v.squeeze(0)
    } else {
        Ok(v)
    }
}

const DTYPES: [DType; 4] = [DType::F64, DType::F32, DType::F16, DType::BF16];

#[test]
fn max_pool2d_matches_the_naive_loops() -> Result<()> {
    let base = MaxPool2dSpec::new([2, 2]);
    let cases: Vec<([usize; 4], MaxPool2dSpec)> = vec![
        ([2, 3, 6, 6], base),
        ([1, 2, 7, 5], base),
        ([1, 2, 7, 5], base.ceil_mode(true)),
        ([2, 2, 7, 8], MaxPool2dSpec::new([3, 3]).stride([2, 2]).padding([1, 1])),
        ([1, 3, 9, 7], MaxPool2dSpec::new([3, 2]).stride([2, 1]).padding([1, 1]).dilation([2, 3]).ceil_mode(true)),
        ([2, 1, 5, 6], MaxPool2dSpec::new([2, 3]).stride([1, 2]).dilation([2, 1])),
        ([1, 1, 4, 4], MaxPool2dSpec::new([4, 4]).padding([2, 2]).stride([3, 3]).ceil_mode(true)),
        // Planes of 32 or more interior outputs (taken tap by tap), alone or inside padded edges.
        ([1, 2, 5, 70], base),
        ([2, 2, 16, 16], base),
        ([1, 2, 12, 11], MaxPool2dSpec::new([3, 3]).stride([1, 1]).padding([1, 1])),
        ([1, 1, 17, 19], MaxPool2dSpec::new([3, 2]).stride([2, 3]).padding([1, 1]).dilation([2, 1]).ceil_mode(true)),
        ([1, 2, 6, 75], MaxPool2dSpec::new([3, 3]).stride([1, 2]).padding([1, 1]).dilation([1, 2]).ceil_mode(true)),
    ];
    for (dims, spec) in cases {
        let x = input(&dims);
        let (want_y, want_i, _) = ref_max(&x, dims, &spec, &[0.0; 4096]);
        let w = weights(want_y.len());
        for dtype in DTYPES {
            for unbatched in [false, dims[0] == 1] {
                let what = format!("max_pool2d {dims:?} {spec:?} {dtype} unbatched {unbatched}");
                let xt = tensor(&x, dims, dtype, unbatched)?;
                let (y, idx) = xt.max_pool2d(&spec)?;
                // Rounding to a narrow dtype may tie neighbours: compare the values only then.
                let xr = xt.to_dtype(DType::F64)?.contiguous()?.reshape(dims)?.to_vec::<f64>()?;
                let (ry, ri, rdx) = ref_max(&xr, dims, &spec, &w);
                assert_close(&format!("{what}: y"), &y.to_vec_f64()?, &ry, 0.0);
                assert_eq!(idx.to_vec::<i64>()?, ri, "{what}: indices");
                if dtype == DType::F64 {
                    assert_eq!((ry.clone(), ri.clone()), (want_y.clone(), want_i.clone()), "{what}");
                }
                let wt = Tensor::from_vec(w.clone(), y.shape().clone(), &Device::Cpu)?.to_dtype(dtype)?;
                let dx = Tensor::max_pool2d_backward(&wt, &idx, xt.shape(), &spec)?;
                assert_close(&format!("{what}: dx"), &dx.to_vec_f64()?, &rdx, tol(dtype));
            }
        }
    }
    Ok(())
}

#[test]
fn avg_pool2d_and_adaptive_avg_pool2d_match_the_naive_loops() -> Result<()> {
    let k3 = AvgPool2dSpec::new([3, 3]);
    let specs: Vec<([usize; 4], AvgPool2dSpec)> = vec![
        ([2, 3, 6, 6], AvgPool2dSpec::new([2, 2])),
        ([1, 2, 7, 5], AvgPool2dSpec::new([2, 2]).ceil_mode(true)),
        ([2, 2, 7, 8], k3.stride([2, 2]).padding([1, 1])),
        ([2, 2, 7, 8], k3.stride([2, 2]).padding([1, 1]).count_include_pad(false)),
        ([1, 2, 8, 7], k3.stride([2, 2]).padding([1, 1]).ceil_mode(true)),
        ([1, 2, 8, 7], k3.stride([2, 2]).padding([1, 1]).ceil_mode(true).count_include_pad(false)),
        ([1, 3, 6, 5], k3.stride([1, 2]).padding([1, 0]).divisor_override(Some(4))),
        ([1, 1, 4, 5], AvgPool2dSpec::new([4, 2]).padding([2, 1]).stride([3, 3]).ceil_mode(true)),
    ];
    let adaptive: Vec<([usize; 4], [usize; 2])> = vec![
        ([2, 3, 6, 6], [3, 3]),
        ([1, 2, 7, 5], [3, 2]),
        ([1, 2, 5, 7], [4, 6]),
        ([2, 1, 3, 4], [5, 1]),
        ([1, 2, 7, 9], [1, 1]),
    ];
    let cases = specs.iter().map(|(d, s)| (*d, Some(*s), [0, 0])).chain(adaptive.iter().map(|(d, o)| (*d, None, *o)));
    for (dims, spec, out) in cases {
        let x = input(&dims);
        let (probe, _) = ref_avg(&x, dims, spec.as_ref(), out, &[0.0; 4096]);
        let w = weights(probe.len());
        let (want_y, want_dx) = ref_avg(&x, dims, spec.as_ref(), out, &w);
        for dtype in DTYPES {
            for unbatched in [false, dims[0] == 1] {
                let what = format!("{dims:?} {spec:?} adaptive {out:?} {dtype} unbatched {unbatched}");
                let xt = tensor(&x, dims, dtype, unbatched)?;
                let y = match &spec {
                    Some(s) => xt.avg_pool2d(s)?,
                    None => xt.adaptive_avg_pool2d(out)?,
                };
                assert_close(&format!("{what}: y"), &y.to_vec_f64()?, &want_y, tol(dtype));
                let wt = Tensor::from_vec(w.clone(), y.shape().clone(), &Device::Cpu)?.to_dtype(dtype)?;
                let dx = match &spec {
                    Some(s) => Tensor::avg_pool2d_backward(&wt, xt.shape(), s)?,
                    None => Tensor::adaptive_avg_pool2d_backward(&wt, xt.shape(), out)?,
                };
                assert_close(&format!("{what}: dx"), &dx.to_vec_f64()?, &want_dx, tol(dtype));
            }
        }
    }
    Ok(())
}

#[test]
fn max_pool2d_follows_pytorch_on_ties_nan_and_empty_batches() -> Result<()> {
    let x = Tensor::from_vec(vec![f32::NAN, 1., 1., 1., 1., 2., 0., 5., 3.], [1, 3, 3], &Device::Cpu)?;
    let (y, idx) = x.max_pool2d(&MaxPool2dSpec::new([2, 2]).stride([1, 1]))?;
    let y = y.to_vec::<f32>()?;
    assert!(y[0].is_nan(), "{y:?}");
    assert_eq!(y[1..], [2., 5., 5.]);
    assert_eq!(idx.to_vec::<i64>()?, [0, 5, 7, 7], "NaN wins over numbers");
    let (y, idx) =
        Tensor::from_vec(vec![2f32; 4], [1, 1, 2, 2], &Device::Cpu)?.max_pool2d(&MaxPool2dSpec::new([2, 2]))?;
    assert_eq!((y.to_vec::<f32>()?, idx.to_vec::<i64>()?), (vec![2.], vec![0]));
    let empty = Tensor::zeros([0, 3, 4, 4], DType::F32, &Device::Cpu)?;
    let (y, idx) = empty.max_pool2d(&MaxPool2dSpec::new([2, 2]))?;
    assert_eq!((y.dims(), idx.dims()), ([0, 3, 2, 2].as_slice(), [0, 3, 2, 2].as_slice()));
    let dx = Tensor::max_pool2d_backward(&y, &idx, &Shape::new(vec![0, 3, 4, 4]), &MaxPool2dSpec::new([2, 2]))?;
    assert_eq!(dx.dims(), [0, 3, 4, 4]);
    assert_eq!(empty.adaptive_avg_pool2d([3, 1])?.dims(), [0, 3, 3, 1]);
    Ok(())
}

#[test]
fn max_pool2d_2x2_over_a_large_batch_runs_in_parallel_and_agrees() -> Result<()> {
    // [64, 64, 24, 24], the Keras MNIST convnet's pooling: above the parallel threshold.
    let dims = [64, 64, 24, 24];
    let x = input(&dims);
    let xt = Tensor::from_vec(x.iter().map(|&v| v as f32).collect(), dims, &Device::Cpu)?;
    let spec = MaxPool2dSpec::new([2, 2]);
    let (y, idx) = xt.max_pool2d(&spec)?;
    let xr: Vec<f64> = x.iter().map(|&v| v as f32 as f64).collect();
    let (ry, ri, _) = ref_max(&xr, dims, &spec, &vec![0.0; 64 * 64 * 144]);
    assert_eq!(idx.to_vec::<i64>()?, ri);
    assert_close("y", &y.to_vec_f64()?, &ry, 0.0);
    let dx = Tensor::max_pool2d_backward(&y, &idx, xt.shape(), &spec)?.to_vec::<f32>()?;
    let kept = dx.iter().zip(&xr).filter(|(d, x)| **d != 0.0 && **d as f64 == **x).count();
    assert_eq!(kept, 64 * 64 * 144, "each window's maximum gets its own value back");
    Ok(())
}

fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("must be an error").to_string()
}

#[test]
fn bad_pooling_arguments_are_errors_naming_the_shapes() -> Result<()> {
    let x = Tensor::zeros([1, 1, 5, 5], DType::F32, &Device::Cpu)?;
    assert_eq!(
        message(x.max_pool2d(&MaxPool2dSpec::new([6, 6]))),
        "max_pool2d: the kernel [6, 6] (dilation [1, 1]) is larger than the padded input: input [1, 1, 5, 5], \
         padding [0, 0]"
    );
    assert_eq!(
        message(x.avg_pool2d(&AvgPool2dSpec::new([2, 2]).padding([2, 0]))),
        "avg_pool2d: padding [2, 0] must be at most half the kernel [2, 2]"
    );
    assert_eq!(message(x.max_pool2d(&MaxPool2dSpec::new([0, 2]))), "max_pool2d: kernel [0, 2] must be positive");
    assert_eq!(
        message(x.max_pool2d(&MaxPool2dSpec::new([2, 2]).stride([1, 0]))),
        "max_pool2d: stride [1, 0] must be positive"
    );
    assert!(message(x.max_pool2d(&MaxPool2dSpec::new([2, 2]).dilation([0, 1]))).contains("dilation [0, 1]"));
    assert_eq!(
        message(x.avg_pool2d(&AvgPool2dSpec::new([2, 2]).divisor_override(Some(0)))),
        "avg_pool2d: divisor_override must be positive, got 0"
    );
    // A dilated window over padding only (PyTorch returns -inf and an index outside the input).
    let small = Tensor::zeros([1, 1, 2, 2], DType::F32, &Device::Cpu)?;
    let e = message(small.max_pool2d(&MaxPool2dSpec::new([2, 2]).padding([1, 1]).dilation([3, 3])));
    assert!(e.contains("covers only padding") && e.contains("[1, 1, 2, 2]"), "{e}");
    for dims in [vec![5, 5], vec![2, 1, 1, 5, 5]] {
        let e = message(Tensor::zeros(dims, DType::F32, &Device::Cpu)?.adaptive_avg_pool2d([2, 2]));
        assert!(e.starts_with("adaptive_avg_pool2d: expects an [N, C, H, W] or [C, H, W] input, got shape"), "{e}");
    }
    let e = message(Tensor::zeros([1, 0, 5], DType::F32, &Device::Cpu)?.adaptive_avg_pool2d([2, 2]));
    assert_eq!(e, "adaptive_avg_pool2d: input [1, 0, 5] has an empty spatial dim");
    // The output size is the caller's: one that no buffer holds is an error, not a panic.
    let e = message(Tensor::zeros([1, 3, 3], DType::F32, &Device::Cpu)?.adaptive_avg_pool2d([usize::MAX, 1]));
    assert!(e.contains("is too large for any buffer") && e.contains("[1, 3, 3]"), "{e}");
    let ints = Tensor::zeros([1, 4, 4], DType::I64, &Device::Cpu)?;
    assert!(message(ints.max_pool2d(&MaxPool2dSpec::new([2, 2]))).contains("dtype i64 is not supported"));
    Ok(())
}

#[test]
fn bad_pooling_gradients_are_errors() -> Result<()> {
    let x = Tensor::from_vec(input(&[1, 1, 4, 4]), [1, 1, 4, 4], &Device::Cpu)?;
    let spec = MaxPool2dSpec::new([2, 2]);
    let (y, idx) = x.max_pool2d(&spec)?;
    let e = message(Tensor::max_pool2d_backward(&y, &idx, &Shape::new(vec![1, 1, 6, 6]), &spec));
    assert!(e.contains("max_pool2d_backward: shape mismatch"), "{e}");
    let bad = Tensor::from_vec(vec![0i64, 1, 16, 3], [1, 1, 2, 2], &Device::Cpu)?;
    let e = message(Tensor::max_pool2d_backward(&y, &bad, x.shape(), &spec));
    assert_eq!(e, "max_pool2d_backward: index 16 is out of range for dim 3 of size 16");
    let e = message(Tensor::max_pool2d_backward(&y, &idx.to_dtype(DType::U32)?, x.shape(), &spec));
    assert!(e.contains("dtype u32 is not supported (the indices max_pool2d returns are i64)"), "{e}");
    let e = message(Tensor::avg_pool2d_backward(
        &y.to_dtype(DType::F64)?.reshape([1, 4])?,
        x.shape(),
        &AvgPool2dSpec::new([2, 2]),
    ));
    assert!(e.contains("avg_pool2d_backward: shape mismatch, [1, 1, 2, 2] vs [1, 4]"), "{e}");
    Ok(())
}
