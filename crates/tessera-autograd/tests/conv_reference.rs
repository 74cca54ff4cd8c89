//! conv2d and conv_transpose2d (Tensor and Var) against direct loops in f64 over several
//! configurations, conv2d's gradients against direct loops, and the errors bad shapes and
//! options give.

use tessera_autograd::Var;
use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, DType, Device, Generator, Tensor};

/// Sizes of one convolution: batch, groups, channels per group in and out, image, kernel.
#[derive(Debug, Clone, Copy)]
struct Case {
    n: usize,
    g: usize,
    cg: usize,
    og: usize,
    image: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
}

/// A case from `[n, groups, in per group, out per group]`, image, kernel, stride, padding and
/// dilation.
const fn case(
    s: [usize; 4],
    image: [usize; 2],
    kernel: [usize; 2],
    st: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
) -> Case {
    Case { n: s[0], g: s[1], cg: s[2], og: s[3], image, kernel, stride: st, padding: p, dilation: d }
}

/// The last two cases are large enough (over 2^20 multiply-adds) for the CPU to split images
/// across threads, or one image's products.
const CASES: [Case; 8] = [
    case([2, 1, 3, 4], [7, 6], [3, 3], [1, 1], [0, 0], [1, 1]),
    case([1, 1, 2, 3], [9, 8], [3, 2], [2, 3], [1, 2], [1, 1]),
    case([2, 2, 2, 3], [6, 7], [2, 3], [1, 2], [2, 1], [2, 2]),
    case([1, 3, 1, 2], [5, 5], [3, 3], [2, 2], [1, 1], [1, 1]),
    case([2, 1, 4, 2], [4, 5], [1, 1], [1, 1], [0, 0], [1, 1]),
    case([3, 1, 1, 5], [12, 12], [3, 3], [1, 1], [0, 0], [1, 1]),
    case([2, 1, 16, 4], [40, 40], [3, 3], [1, 1], [0, 0], [1, 1]),
    case([1, 2, 8, 8], [40, 40], [3, 3], [1, 1], [1, 1], [1, 1]),
];

fn randn(g: &mut Generator, dims: &[usize]) -> Tensor {
    Tensor::randn(g, dims.to_vec(), DType::F64, &Device::Cpu).unwrap()
}

/// Row-major index of `i` in `dims`.
fn at(dims: &[usize], i: &[usize]) -> usize {
    dims.iter().zip(i).fold(0, |acc, (&d, &k)| acc * d + k)
}

/// The input position a window position and kernel tap read along one axis, if inside.
fn tap(o: usize, k: usize, a: usize, c: &Case, size: usize) -> Option<usize> {
    let i = (o * c.stride[a] + k * c.dilation[a]) as isize - c.padding[a] as isize;
    (i >= 0 && (i as usize) < size).then_some(i as usize)
}

fn out_size(c: &Case) -> [usize; 2] {
    [0, 1].map(|a| (c.image[a] + 2 * c.padding[a] - c.dilation[a] * (c.kernel[a] - 1) - 1) / c.stride[a] + 1)
}

/// For every (x index, weight index, y index) term of the convolution, `f(xi, wi, yi)`.
fn each_term(c: &Case, mut f: impl FnMut(usize, usize, usize)) {
    let (cin, oc, [oh, ow], [h, w]) = (c.g * c.cg, c.g * c.og, out_size(c), c.image);
    let (xd, wd, yd) = ([c.n, cin, h, w], [oc, c.cg, c.kernel[0], c.kernel[1]], [c.n, oc, oh, ow]);
    for n in 0..c.n {
        for o in 0..oc {
            let grp = o / c.og;
            for i in 0..c.cg {
                for ki in 0..c.kernel[0] {
                    for kj in 0..c.kernel[1] {
                        for y in 0..oh {
                            for x in 0..ow {
                                if let (Some(iy), Some(ix)) = (tap(y, ki, 0, c, h), tap(x, kj, 1, c, w)) {
                                    let xi = at(&xd, &[n, grp * c.cg + i, iy, ix]);
                                    f(xi, at(&wd, &[o, i, ki, kj]), at(&yd, &[n, o, y, x]));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn conv_spec(c: &Case) -> Conv2dSpec {
    Conv2dSpec { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.g }
}

fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{what}[{i}]: {a} vs {b}");
    }
}

#[test]
fn conv2d_and_its_gradients_match_direct_loops() {
    let mut g = Generator::new(3);
    for c in CASES {
        let (cin, oc, [oh, ow]) = (c.g * c.cg, c.g * c.og, out_size(&c));
        let x = randn(&mut g, &[c.n, cin, c.image[0], c.image[1]]);
        let w = randn(&mut g, &[oc, c.cg, c.kernel[0], c.kernel[1]]);
        let b = randn(&mut g, &[oc]);
        let dy = randn(&mut g, &[c.n, oc, oh, ow]);
        let (xv, wv, bv, dyv) =
            (x.to_vec_f64().unwrap(), w.to_vec_f64().unwrap(), b.to_vec_f64().unwrap(), dy.to_vec_f64().unwrap());
        let mut y: Vec<f64> = (0..dyv.len()).map(|i| bv[i / (oh * ow) % oc]).collect();
        let (mut dx, mut dw) = (vec![0.0; xv.len()], vec![0.0; wv.len()]);
        each_term(&c, |xi, wi, yi| {
            y[yi] += xv[xi] * wv[wi];
            dx[xi] += dyv[yi] * wv[wi];
            dw[wi] += dyv[yi] * xv[xi];
        });
        let db: Vec<f64> =
            (0..oc).map(|o| (0..dyv.len()).filter(|i| i / (oh * ow) % oc == o).map(|i| dyv[i]).sum()).collect();
        let what = format!("{c:?}");
        close(&format!("{what} tensor"), &x.conv2d(&w, Some(&b), &conv_spec(&c)).unwrap().to_vec_f64().unwrap(), &y);
        let (xp, wp, bp) =
            (Var::param(x.clone()).unwrap(), Var::param(w.clone()).unwrap(), Var::param(b.clone()).unwrap());
        let out = xp.conv2d(&wp, Some(&bp), &conv_spec(&c)).unwrap();
        close(&format!("{what} var"), &out.to_vec_f64().unwrap(), &y);
        out.mul(&Var::constant(dy)).unwrap().sum_all().unwrap().backward().unwrap();
        close(&format!("{what} dx"), &xp.grad().unwrap().to_vec_f64().unwrap(), &dx);
        close(&format!("{what} dw"), &wp.grad().unwrap().to_vec_f64().unwrap(), &dw);
        close(&format!("{what} db"), &bp.grad().unwrap().to_vec_f64().unwrap(), &db);
    }
}

#[test]
fn conv_transpose2d_matches_direct_loops() {
    let mut g = Generator::new(4);
    for c in CASES {
        // The transpose of `c`'s convolution maps its output size back onto its image (plus the
        // rows and columns the stride skipped, which output_padding restores).
        let (cin, oc, [oh, ow]) = (c.g * c.cg, c.g * c.og, out_size(&c));
        let output_padding = [0, 1].map(|a| {
            c.image[a] + 2 * c.padding[a] - c.dilation[a] * (c.kernel[a] - 1) - 1 - (out_size(&c)[a] - 1) * c.stride[a]
        });
        if (0..2).any(|a| output_padding[a] >= c.stride[a] && output_padding[a] >= c.dilation[a]) {
            continue;
        }
        let spec = ConvTranspose2dSpec {
            stride: c.stride,
            padding: c.padding,
            output_padding,
            dilation: c.dilation,
            groups: c.g,
        };
        let y = randn(&mut g, &[c.n, oc, oh, ow]);
        // A conv2d weight [oc, cg, kh, kw] is a transposed conv's [C_in = oc, C_out / g = cg, kh, kw].
        let w = randn(&mut g, &[oc, c.cg, c.kernel[0], c.kernel[1]]);
        let b = randn(&mut g, &[cin]);
        let (yv, wv, bv) = (y.to_vec_f64().unwrap(), w.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
        let plane = c.image[0] * c.image[1];
        let mut want: Vec<f64> = (0..c.n * cin * plane).map(|i| bv[i / plane % cin]).collect();
        each_term(&c, |xi, wi, yi| want[xi] += yv[yi] * wv[wi]);
        let what = format!("{c:?}");
        close(
            &format!("{what} tensor"),
            &y.conv_transpose2d(&w, Some(&b), &spec).unwrap().to_vec_f64().unwrap(),
            &want,
        );
        let v = Var::param(y).unwrap().conv_transpose2d(&Var::param(w).unwrap(), Some(&Var::param(b).unwrap()), &spec);
        close(&format!("{what} var"), &v.unwrap().to_vec_f64().unwrap(), &want);
    }
}

#[test]
fn bad_shapes_and_options_are_errors_naming_them() {
    let z = |dims: &[usize]| Tensor::zeros(dims.to_vec(), DType::F32, &Device::Cpu).unwrap();
    let d = Conv2dSpec::default();
    let conv = |x: &[usize], w: &[usize], b: Option<&[usize]>, s: Conv2dSpec| {
        z(x).conv2d(&z(w), b.map(z).as_ref(), &s).unwrap_err().to_string()
    };
    let cases = [
        (conv(&[1, 1, 2, 2], &[1, 1, 3, 3], None, d), "conv2d: kernel 3x3"),
        (
            conv(&[1, 3, 5, 5], &[4, 1, 3, 3], None, Conv2dSpec { groups: 2, ..d }),
            "input [1, 3, 5, 5] and weight [4, 1, 3, 3]: 3 input and 4 output channels in 2 groups",
        ),
        (conv(&[1, 3, 5, 5], &[4, 2, 3, 3], None, d), "weight's dim 1 must be C / groups"),
        (conv(&[1, 3, 5, 5], &[4, 3, 3, 3], Some(&[3]), d), "bias of shape [3] does not match 4 output channels"),
        (conv(&[1, 3, 5, 5], &[4, 3, 3, 3], None, Conv2dSpec { stride: [0, 1], ..d }), "stride [0, 1]"),
        (conv(&[1, 3, 5, 5], &[4, 3, 3, 3], None, Conv2dSpec { dilation: [1, 0], ..d }), "dilation [1, 0]"),
        (conv(&[1, 3, 5, 5], &[4, 3, 3, 3], None, Conv2dSpec { groups: 0, ..d }), "groups must be at least 1"),
        (conv(&[3, 5], &[4, 3, 3, 3], None, d), "[N, C, H, W] or [C, H, W], got shape [3, 5]"),
        (conv(&[1, 3, 5, 5], &[4, 3, 3], None, d), "weight [OC, C / groups, KH, KW], got shape [4, 3, 3]"),
    ];
    for (err, want) in cases {
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    let t = ConvTranspose2dSpec::default();
    let convt = |x: &[usize], w: &[usize], s: ConvTranspose2dSpec| {
        z(x).conv_transpose2d(&z(w), None, &s).unwrap_err().to_string()
    };
    let e = convt(&[1, 2, 3, 3], &[2, 2, 3, 3], ConvTranspose2dSpec { stride: [2, 2], output_padding: [2, 0], ..t });
    assert!(e.contains("conv_transpose2d: output_padding [2, 0] must be smaller than either the stride"), "{e}");
    let e = convt(&[1, 2, 3, 3], &[3, 2, 3, 3], t);
    assert!(e.contains("input [1, 2, 3, 3] has 2 channels, weight [3, 2, 3, 3] expects 3"), "{e}");
    let e = convt(&[1, 2, 1, 1], &[2, 2, 1, 1], ConvTranspose2dSpec { padding: [1, 1], ..t });
    assert!(e.contains("gives no output"), "{e}");
    let e = z(&[1, 2, 3, 3]).col2im(&Conv2dSpec::default().window([2, 2]), [3, 3]).unwrap_err().to_string();
    assert!(e.contains("col2im: columns of shape [1, 2, 3, 3]") || e.contains("col2im: expects columns"), "{e}");
    let e = z(&[1, 4, 5]).col2im(&Conv2dSpec::default().window([2, 2]), [3, 3]).unwrap_err().to_string();
    assert!(e.contains("col2im: columns of shape [1, 4, 5] do not fit a 2x2 kernel over 3x3 images"), "{e}");
    let i = Tensor::zeros([1, 1, 3, 3], DType::I64, &Device::Cpu).unwrap();
    assert!(i.im2col(&Conv2dSpec::default().window([2, 2])).unwrap_err().to_string().contains("im2col: dtype i64"));
}

#[test]
fn empty_batches_and_channels_give_empty_or_zero_results() {
    let z = |dims: &[usize]| Var::param(Tensor::ones(dims.to_vec(), DType::F32, &Device::Cpu).unwrap()).unwrap();
    let spec = Conv2dSpec { padding: [1, 1], ..Conv2dSpec::default() };
    // (x, weight, output): no images, no input channels (the output is the bias), no outputs.
    for (x, w, out) in [
        ([0, 2, 4, 4], [3, 2, 3, 3], [0, 3, 4, 4]),
        ([2, 0, 4, 4], [3, 0, 3, 3], [2, 3, 4, 4]),
        ([2, 2, 4, 4], [0, 2, 3, 3], [2, 0, 4, 4]),
    ] {
        let (xv, wv, bv) = (z(&x), z(&w), z(&[w[0]]));
        let y = xv.conv2d(&wv, Some(&bv), &spec).unwrap();
        assert_eq!(y.dims(), out);
        assert!(y.to_vec_f64().unwrap().iter().all(|&v| v == 1.0), "{x:?} {w:?}: the bias alone");
        y.sum_all().unwrap().backward().unwrap();
        assert_eq!(xv.grad().unwrap().dims(), x);
        assert_eq!(wv.grad().unwrap().dims(), w);
        // The same weight as a transposed convolution's [C, OC, KH, KW].
        let t = xv.tensor().conv_transpose2d(&wv.tensor().transpose(0, 1).unwrap(), None, &Default::default());
        let t = t.unwrap();
        assert_eq!(t.dims(), [x[0], w[0], 6, 6]);
        if x[1] == 0 {
            assert!(t.to_vec_f64().unwrap().iter().all(|&v| v == 0.0), "no input channels: zeros");
        }
    }
}

#[test]
fn every_float_dtype_matches_f64() {
    let mut g = Generator::new(5);
    let c = CASES[2];
    let (x, w) = (randn(&mut g, &[c.n, c.g * c.cg, c.image[0], c.image[1]]), randn(&mut g, &[c.g * c.og, c.cg, 2, 3]));
    let dims = x.conv2d(&w, None, &conv_spec(&c)).unwrap().dims().to_vec();
    let dy = randn(&mut g, &dims);
    for (dtype, tol) in [(DType::F32, 1e-5), (DType::F16, 1e-2), (DType::BF16, 5e-2)] {
        let cast = |t: &Tensor| t.to_dtype(dtype).unwrap();
        let (xs, ws, dys) = (cast(&x), cast(&w), cast(&dy));
        let wide = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
        let (xr, wr, dyr) = (wide(&xs), wide(&ws), wide(&dys));
        let spec = conv_spec(&c);
        let results = [
            (xs.conv2d(&ws, None, &spec), xr.conv2d(&wr, None, &spec)),
            (dys.conv2d_input_grad(&ws, &spec, c.image), dyr.conv2d_input_grad(&wr, &spec, c.image)),
            (xs.conv2d_weight_grad(&dys, &spec, [2, 3]), xr.conv2d_weight_grad(&dyr, &spec, [2, 3])),
        ];
        for (what, (got, want)) in ["conv2d", "input grad", "weight grad"].into_iter().zip(results) {
            let (got, want) = (got.unwrap(), want.unwrap());
            assert_eq!(got.dtype(), dtype);
            let (gv, wv) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
            let scale = wv.iter().fold(1f64, |m, v| m.max(v.abs()));
            for (i, (a, b)) in gv.iter().zip(&wv).enumerate() {
                assert!((a - b).abs() <= tol * scale, "{dtype} {what}[{i}]: {a} vs {b}");
            }
        }
    }
}
