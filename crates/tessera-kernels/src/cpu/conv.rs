//! im2col and col2im over NCHW images (see [`crate::plan::Im2ColPlan`]), one `(image, channel)`
//! plane at a time, planes split across threads when large. im2col copies: each kernel tap's
//! row of window positions is, per output row, one contiguous run of the input row at stride 1
//! (a strided gather otherwise), and the zero padding is left as allocated. col2im sums the same
//! runs back; f16 and bf16 sum in f32 and round once.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::par;
use super::simd::multiversion;
use super::unary::FloatMath;
use crate::plan::{Col2ImPlan, ConvWindow, Im2ColPlan};
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16, Element};

/// The plan's im2col of `x`: `[N, C·KH·KW, OH·OW]`, contiguous.
pub fn im2col(plan: &Im2ColPlan, x: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("im2col", plan.dtype, &[x])?;
    let w = &plan.window;
    Ok(match x {
        CpuBuffer::F32(v) => unfold(w, &strided_values(v, &plan.x)).into(),
        CpuBuffer::F64(v) => unfold(w, &strided_values(v, &plan.x)).into(),
        CpuBuffer::F16(v) => unfold(w, &strided_values(v, &plan.x)).into(),
        CpuBuffer::BF16(v) => unfold(w, &strided_values(v, &plan.x)).into(),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

/// The plan's col2im of `col`: `[N, C, H, W]`, contiguous, each pixel the sum of the column
/// entries im2col would have copied from it.
pub fn col2im(plan: &Col2ImPlan, col: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("col2im", plan.dtype, &[col])?;
    let w = &plan.window;
    Ok(match col {
        CpuBuffer::F32(v) => fold(w, &strided_values(v, &plan.col)).into(),
        CpuBuffer::F64(v) => fold(w, &strided_values(v, &plan.col)).into(),
        CpuBuffer::F16(v) => f16::narrow(&fold(w, &f16::widen(&strided_values(v, &plan.col)))).into(),
        CpuBuffer::BF16(v) => bf16::narrow(&fold(w, &bf16::widen(&strided_values(v, &plan.col)))).into(),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

/// Runs `f(plane, out_plane)` over the `plane`-long chunks of `out`, in parallel when large.
fn planes<T: Send>(out: &mut [T], plane: usize, f: impl Fn((usize, &mut [T])) + Sync + Send) {
    if plane == 0 || out.is_empty() {
        return;
    }
    if par::worth_parallel(out.len()) {
        out.par_chunks_mut(plane).enumerate().for_each(f);
    } else {
        out.chunks_mut(plane).enumerate().for_each(f);
    }
}

/// The output rows `oh` of kernel row `kh` that read an input row, each with the input row it
/// reads; likewise `(lo, hi, first)` for the columns of kernel column `kw` (see
/// [`ConvWindow::valid`]).
struct Runs {
    rows: (usize, usize, i128),
    cols: (usize, usize, i128),
}

impl Runs {
    fn new(w: &ConvWindow, kh: usize, kw: usize) -> Self {
        Runs { rows: w.valid(0, kh), cols: w.valid(1, kw) }
    }

    /// For each valid output row: `(oh, ih)`.
    fn each_row(&self, stride: usize) -> impl Iterator<Item = (usize, usize)> {
        let (lo, hi, first) = self.rows;
        (lo..hi).map(move |oh| (oh, input_index(oh, stride, first)))
    }

    /// The valid output columns `lo..hi` and the input column of `lo`, or `None` when none is.
    fn cols(&self, stride: usize) -> Option<(usize, usize, usize)> {
        let (lo, hi, first) = self.cols;
        (lo < hi).then(|| (lo, hi, input_index(lo, stride, first)))
    }
}

/// The input index `o·stride + first` of a valid output position `o` (in `0..n` by
/// [`ConvWindow::valid`]; computed in i128, as a stride past `isize::MAX` is allowed).
fn input_index(o: usize, stride: usize, first: i128) -> usize {
    (o as i128 * stride as i128 + first) as usize
}

fn unfold<T: Element>(w: &ConvWindow, x: &[T]) -> Vec<T> {
    let (plane_in, plane_out) = (w.image[0] * w.image[1], w.taps() * w.positions());
    let mut out = par::filled(w.batch * w.channels * plane_out, T::ZERO);
    planes(&mut out, plane_out, |(p, dst)| unfold_plane(w, &x[p * plane_in..][..plane_in], dst));
    out
}

/// Every run of one plane's window, in kernel-tap order: for each tap and each output row that
/// reads the image, `f(cols, first)` with the run's range in the `[KH·KW, OH·OW]` block and the
/// offset of its first input element in the `[H, W]` image (the run's input elements lie one
/// column stride apart). Inlined, so that it takes its caller's target features.
#[inline(always)]
fn each_run(w: &ConvWindow, mut f: impl FnMut(std::ops::Range<usize>, usize)) {
    let ([kh_n, kw_n], [_, ow_n], width) = (w.spec.kernel, w.out, w.image[1]);
    let [sh, sw] = w.spec.stride;
    let positions = w.positions();
    for kh in 0..kh_n {
        for kw in 0..kw_n {
            let runs = Runs::new(w, kh, kw);
            let Some((lo, hi, start)) = runs.cols(sw) else { continue };
            let tap = (kh * kw_n + kw) * positions;
            for (oh, ih) in runs.each_row(sh) {
                let row = tap + oh * ow_n;
                f(row + lo..row + hi, ih * width + start);
            }
        }
    }
}

multiversion! {
    /// One plane's `[KH·KW, OH·OW]` block from its `[H, W]` image; `dst` starts zeroed.
    fn unfold_plane<T>(w: &ConvWindow, src: &[T], dst: &mut [T]) where T: Copy
    {
        let sw = w.spec.stride[1];
        each_run(w, |cols, first| {
            let run = &mut dst[cols];
            if sw == 1 {
                copy_run(run, &src[first..first + run.len()]);
            } else {
                for (o, d) in run.iter_mut().enumerate() {
                    *d = src[first + o * sw];
                }
            }
        });
    }
}

/// `dst.copy_from_slice(src)` for the short runs of a window row: eight elements at a time as
/// fixed-size copies (a call to `memcpy` per run of a few dozen bytes costs more than the copy).
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    if dst.len() >= 128 {
        dst.copy_from_slice(src);
        return;
    }
    let (mut d, mut s) = (dst.chunks_exact_mut(8), src.chunks_exact(8));
    for (d, s) in (&mut d).zip(&mut s) {
        let (d, s): (&mut [T; 8], &[T; 8]) = (d.try_into().expect("8"), s.try_into().expect("8"));
        *d = *s;
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = *s;
    }
}

fn fold<T: FloatMath + Send + Sync>(w: &ConvWindow, col: &[T]) -> Vec<T> {
    let (plane_in, plane_out) = (w.taps() * w.positions(), w.image[0] * w.image[1]);
    let mut out = par::filled(w.batch * w.channels * plane_out, T::ZERO);
    planes(&mut out, plane_out, |(p, dst)| fold_plane(w, &col[p * plane_in..][..plane_in], dst));
    out
}

multiversion! {
    /// One plane's `[H, W]` image summed from its `[KH·KW, OH·OW]` block; `dst` starts zeroed. Each
    /// pixel receives its terms in kernel-tap order, as the CUDA kernel sums them.
    fn fold_plane<T>(w: &ConvWindow, src: &[T], dst: &mut [T]) where T: FloatMath
    {
        let sw = w.spec.stride[1];
        each_run(w, |cols, first| {
            let run = &src[cols];
            if sw == 1 {
                for (d, &s) in dst[first..first + run.len()].iter_mut().zip(run) {
                    *d = *d + s;
                }
            } else {
                for (o, &s) in run.iter().enumerate() {
                    let d = &mut dst[first + o * sw];
                    *d = *d + s;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Arg, Col2ImPlan, Im2ColPlan, Im2ColSpec};
    use tessera_core::{DType, Layout, Shape};

    /// im2col by its definition, one element at a time.
    fn naive_im2col(w: &ConvWindow, x: &[f64]) -> Vec<f64> {
        let ([c, h, wd], [kh, kw], [oh, ow]) = ([w.channels, w.image[0], w.image[1]], w.spec.kernel, w.out);
        let mut out = Vec::new();
        for n in 0..w.batch {
            for ch in 0..c {
                for ki in 0..kh {
                    for kj in 0..kw {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                // In i128: the edge cases below overflow any narrower type.
                                let at = |o: usize, k: usize, a: usize| {
                                    let s = &w.spec;
                                    o as i128 * s.stride[a] as i128 + k as i128 * s.dilation[a] as i128
                                        - s.padding[a] as i128
                                };
                                let (iy, ix) = (at(oy, ki, 0), at(ox, kj, 1));
                                let inside = iy >= 0 && ix >= 0 && iy < h as i128 && ix < wd as i128;
                                let at = ((n * c + ch) * h + iy.max(0) as usize) * wd + ix.max(0) as usize;
                                out.push(if inside { x[at] } else { 0.0 });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn im2col_matches_its_definition_and_col2im_is_its_adjoint() {
        let cases = [
            ([2, 3, 5, 6], [3, 3], [1, 1], [0, 0], [1, 1]),
            ([1, 2, 7, 5], [3, 2], [2, 1], [1, 2], [1, 2]),
            ([2, 1, 6, 6], [2, 3], [3, 2], [2, 1], [2, 1]),
            ([1, 1, 1, 1], [3, 3], [1, 1], [1, 1], [1, 1]),
            ([1, 2, 4, 4], [1, 1], [1, 1], [0, 0], [1, 1]),
            // Output row 1 reads input row 0 through a padding and a stride of 2^61.
            ([1, 1, 4, 4], [1, 2], [1 << 61, 1 << 40], [1 << 61, 1 << 40], [1, 1 << 40]),
        ];
        for (dims, kernel, stride, padding, dilation) in cases {
            let spec = Im2ColSpec { kernel, stride, padding, dilation };
            let xl = Layout::contiguous(Shape::new(dims.to_vec()));
            let n: usize = dims.iter().product();
            let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let plan = Im2ColPlan::new(Arg::new(DType::F64, &xl), &spec).unwrap();
            let CpuBuffer::F64(col) = im2col(&plan, &CpuBuffer::F64(x.clone())).unwrap() else { panic!() };
            assert_eq!(col, naive_im2col(&plan.window, &x), "{dims:?} {spec:?}");
            // <im2col(x), y> = <x, col2im(y)> for any y.
            let y: Vec<f64> = (0..col.len()).map(|i| (i as f64 * 0.91).cos()).collect();
            let cl = Layout::contiguous(plan.out_shape.clone());
            let back = Col2ImPlan::new(Arg::new(DType::F64, &cl), &spec, [dims[2], dims[3]]).unwrap();
            let CpuBuffer::F64(xt) = col2im(&back, &CpuBuffer::F64(y.clone())).unwrap() else { panic!() };
            let lhs: f64 = col.iter().zip(&y).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&xt).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9 * (1.0 + lhs.abs()), "{dims:?} {spec:?}: {lhs} vs {rhs}");
        }
        // Found by the var_ops fuzz target: output row 2 reached input row 0 through a padding
        // of 2^64 - 2 and a stride of 2^63 - 1, offsets that the CUDA kernels' 64-bit arithmetic
        // (and PyTorch's i64 sizes) cannot hold; the CPU read a row near 2^63. Such a window is
        // an error.
        let far = Im2ColSpec {
            kernel: [1, 3],
            stride: [isize::MAX as usize, 1 << 32],
            padding: [usize::MAX - 1, usize::MAX],
            dilation: [usize::MAX; 2],
        };
        let xl = Layout::contiguous(Shape::new(vec![1, 1, 4, 4]));
        let err = Im2ColPlan::new(Arg::new(DType::F64, &xl), &far).unwrap_err().to_string();
        assert!(err.contains("reach offsets past 2^63 - 1"), "{err}");
    }
}
