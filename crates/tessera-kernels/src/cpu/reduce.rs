//! Reductions over one or several dims: sum, mean, max, min, var, argmax, argmin.

use super::buffer::{expect_dtype, is_nan, strided_values, CpuBuffer};
use super::half::Half;
use super::unary::FloatMath;
use super::{par, simd};
use crate::ops::{ArgReduceOp, ReduceOp};
use crate::plan::{Lines, ReduceKind, ReducePlan};
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16, DType, Element, Layout, Shape};

/// The plan's reduction of `buf`: a contiguous buffer of the plan's output shape and dtype.
/// Sums of integer dtypes are `i64`, as in PyTorch; f16 and bf16 accumulate in f32.
pub fn reduce(plan: &ReducePlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    let (read, lines) = (&plan.read, plan.lines);
    let op = match plan.kind {
        ReduceKind::Op(op) => op.name(),
        ReduceKind::Variance { .. } => "variance",
        ReduceKind::Arg(op) => op.name(),
    };
    expect_dtype(op, plan.dtype, &[buf])?;
    if lines.outputs() == 0 {
        // No lines to walk, though one count may be vast (a [2^33, 2^64 - 2, 0] input).
        return Ok(CpuBuffer::zeros(plan.out_dtype, 0));
    }
    Ok(match plan.kind {
        ReduceKind::Op(op) => fold(op, buf, read, lines),
        ReduceKind::Variance { correction } => variance(buf, read, lines, correction),
        ReduceKind::Arg(op) => {
            super::buffer::dispatch!(buf, v => arg_lines(&strided_values(v, read), lines, op)).into()
        }
    })
}

/// The bands of rows a long fold of one block of lines is split into (see [`fold_lines`]).
const ROW_BANDS: usize = 8;

/// Folds lines with `row` (a whole line, post = 1) or `acc` (elementwise into an accumulator row,
/// given one line or four in order: a sum adds four lines pairwise and then into the accumulator,
/// a quarter of the accumulator's loads and stores; column sums of 4096 x 4096 f32 on one Zen 5
/// thread, criterion: 2.43 -> 1.52 ms).
fn fold_lines<W, R, A>(data: &[W], l: Lines, init: W, row: R, acc: A) -> Vec<W>
where
    W: Copy + Send + Sync,
    R: Fn(&[W]) -> W + Sync,
    A: Fn(&mut [W], &[&[W]]) + Sync,
{
    fold_lines_apart(data, l, l.post, init, row, acc)
}

/// [`fold_lines`] over lines of `post` values `stride` apart (at least `post`; rows with
/// padding after each, read in place): line `p * red + r` starts at `(p * red + r) * stride`.
/// With `post == 1` the lines must be contiguous (`stride == 1`).
fn fold_lines_apart<W, R, A>(data: &[W], l: Lines, stride: usize, init: W, row: R, acc: A) -> Vec<W>
where
    W: Copy + Send + Sync,
    R: Fn(&[W]) -> W + Sync,
    A: Fn(&mut [W], &[&[W]]) + Sync,
{
    if l.pre * l.post == 0 {
        return Vec::new();
    }
    debug_assert!(stride >= l.post && (l.post > 1 || stride == 1), "lines {l:?} {stride} apart");
    // By the values folded, not the slice's length, so that padding changes neither the split
    // nor the order of the sums.
    let elems = l.pre.saturating_mul(l.red).saturating_mul(l.post);
    let big = par::worth_parallel(elems);
    if l.post == 1 {
        let line = |p: usize| row(&data[p * l.red..(p + 1) * l.red]);
        if big && l.pre == 1 {
            // One long line: fold pieces in parallel, then fold the partial results.
            let chunk = par::chunk_len(l.red, 64);
            let partials: Vec<W> = data[..l.red].par_chunks(chunk).map(&row).collect();
            return vec![row(&partials)];
        }
        if big {
            return (0..l.pre).into_par_iter().map(line).collect();
        }
        return (0..l.pre).map(line).collect();
    }
    let mut out = vec![init; l.pre * l.post];
    // Lines `rows` of block `p`, from column `q0` on, folded into `out`.
    let fold_rows = |p: usize, q0: usize, rows: std::ops::Range<usize>, out: &mut [W]| {
        let width = out.len();
        let line = |r: usize| &data[(p * l.red + r) * stride + q0..][..width];
        let Some(first) = rows.clone().next() else { return };
        // Start from the first line so that max and min never see the neutral `init`.
        out.copy_from_slice(line(first));
        let mut r = first + 1;
        while r + 4 <= rows.end {
            acc(out, &[line(r), line(r + 1), line(r + 2), line(r + 3)]);
            r += 4;
        }
        (r..rows.end).for_each(|r| acc(out, &[line(r)]));
    };
    let block = |p: usize, q0: usize, out: &mut [W]| fold_rows(p, q0, 0..l.red, out);
    if l.pre == 1 && l.red >= 16 * ROW_BANDS && elems >= par::PAR_MIN_ELEMS {
        // Bands of rows, each folded into its own line on one thread, then those lines folded in
        // order: each thread streams a contiguous block, where bands of columns read a few KiB
        // of every row and were slower on two threads than on one (4096 x 4096 column sums,
        // Zen 4). A fixed number of bands keeps the order of the fold, and so the result, the
        // same on any number of threads.
        let rows = l.red.div_ceil(ROW_BANDS);
        let mut partials = vec![init; l.red.div_ceil(rows) * l.post];
        let band = |b: usize, folded: &mut [W]| fold_rows(0, 0, b * rows..((b + 1) * rows).min(l.red), folded);
        if big {
            partials.par_chunks_mut(l.post).enumerate().for_each(|(b, folded)| band(b, folded));
        } else {
            partials.chunks_mut(l.post).enumerate().for_each(|(b, folded)| band(b, folded));
        }
        let mut parts = partials.chunks(l.post);
        out.copy_from_slice(parts.next().expect("at least one band"));
        for part in parts {
            acc(&mut out, &[part]);
        }
    } else if big && l.pre >= rayon::current_num_threads() {
        out.par_chunks_mut(l.post).enumerate().for_each(|(p, o)| block(p, 0, o));
    } else if big {
        // Bands of columns sized by the work they hold (`red` rows each): a bias gradient's 128
        // column sums over 768 rows are worth splitting although the row is short.
        let chunk = (par::chunk_len(l.post * l.red, 16 * l.red) / l.red).min(l.post);
        for p in 0..l.pre {
            let row_out = &mut out[p * l.post..(p + 1) * l.post];
            row_out.par_chunks_mut(chunk).enumerate().for_each(|(c, o)| block(p, c * chunk, o));
        }
    } else {
        for (p, o) in out.chunks_mut(l.post).enumerate() {
            block(p, 0, o);
        }
    }
    out
}

pub(super) fn sum_lines_f32(data: &[f32], l: Lines) -> Vec<f32> {
    sum_lines_apart_f32(data, l, l.post)
}

/// [`sum_lines_f32`] over lines `stride` apart (see [`fold_lines_apart`]).
fn sum_lines_apart_f32(data: &[f32], l: Lines, stride: usize) -> Vec<f32> {
    fold_lines_apart(data, l, stride, 0.0, simd::sum_f32, |acc, lines| match lines {
        [a, b, c, d] => simd::add4_assign(acc, a, b, c, d),
        _ => lines.iter().for_each(|x| simd::add_assign_f32(acc, x)),
    })
}

fn sum_lines_apart_f64(data: &[f64], l: Lines, stride: usize) -> Vec<f64> {
    fold_lines_apart(data, l, stride, 0.0, simd::sum_f64, |acc, lines| match lines {
        [a, b, c, d] => simd::add4_assign(acc, a, b, c, d),
        _ => lines.iter().for_each(|x| simd::add_assign_f64(acc, x)),
    })
}

/// Where `read` is `[pre, red, post]` lines of contiguous values, evenly spaced further apart
/// than `post` (a gate gradient's rows with padding after each, see
/// `lstm_sequence::backward`): the index of its first element and the lines' stride, so that a
/// sum reads the lines in place instead of gathering them first.
fn lines_apart(read: &Layout, l: Lines) -> Option<(usize, usize)> {
    if read.is_contiguous() || l.post <= 1 || l.pre == 0 || l.red == 0 {
        return None;
    }
    let lines = read.reshape(&Shape::new(vec![l.pre, l.red, l.post])).ok()??;
    match *lines.strides() {
        [ps, rs, 1] if rs >= l.post && (l.pre == 1 || ps == l.red * rs) => Some((lines.offset(), rs)),
        _ => None,
    }
}

fn sum_lines_i64(data: &[i64], l: Lines) -> Vec<i64> {
    fold_lines(
        data,
        l,
        0,
        |xs| xs.iter().fold(0i64, |a, &x| a.wrapping_add(x)),
        |acc, lines| lines.iter().for_each(|xs| acc.iter_mut().zip(*xs).for_each(|(a, &x)| *a = a.wrapping_add(x))),
    )
}

/// The maximum or minimum (`op`) of lines; NaN wins, as in PyTorch.
fn extreme_lines<W: Element + Send + Sync>(data: &[W], l: Lines, op: ReduceOp) -> Vec<W> {
    let pick = move |a: W, x: W| {
        let better = if op == ReduceOp::Max { x > a } else { x < a };
        if better || is_nan(x) {
            x
        } else {
            a
        }
    };
    fold_lines(
        data,
        l,
        W::ZERO,
        |xs| xs[1..].iter().fold(xs[0], |a, &x| if is_nan(a) { a } else { pick(a, x) }),
        |acc, lines| {
            for xs in lines {
                acc.iter_mut().zip(*xs).for_each(|(a, &x)| *a = if is_nan(*a) { *a } else { pick(*a, x) })
            }
        },
    )
}

fn fold(op: ReduceOp, buf: &CpuBuffer, read: &Layout, lines: Lines) -> CpuBuffer {
    let count = lines.red as f64;
    match (op, buf) {
        (ReduceOp::Sum | ReduceOp::Mean, CpuBuffer::F32(v)) => {
            let sums = match lines_apart(read, lines) {
                Some((at, stride)) => sum_lines_apart_f32(&v[at..], lines, stride),
                None => sum_lines_f32(&strided_values(v, read), lines),
            };
            finish_mean(op, sums, count).into()
        }
        (ReduceOp::Sum | ReduceOp::Mean, CpuBuffer::F64(v)) => {
            let sums = match lines_apart(read, lines) {
                Some((at, stride)) => sum_lines_apart_f64(&v[at..], lines, stride),
                None => sum_lines_apart_f64(&strided_values(v, read), lines, lines.post),
            };
            finish_mean(op, sums, count).into()
        }
        (ReduceOp::Sum | ReduceOp::Mean, CpuBuffer::F16(v)) => {
            let s = finish_mean(op, sum_lines_f32(&f16::widen(&strided_values(v, read)), lines), count);
            f16::narrow(&s).into()
        }
        (ReduceOp::Sum | ReduceOp::Mean, CpuBuffer::BF16(v)) => {
            let s = finish_mean(op, sum_lines_f32(&bf16::widen(&strided_values(v, read)), lines), count);
            bf16::narrow(&s).into()
        }
        // Integer means are rejected by the plan; integer sums widen to i64.
        (ReduceOp::Sum | ReduceOp::Mean, int) => {
            let wide = super::cast::cast(int, read, DType::I64);
            sum_lines_i64(wide.as_slice().expect("cast to i64"), lines).into()
        }
        (ReduceOp::Max | ReduceOp::Min, b) => {
            super::buffer::dispatch!(b, v => extreme_lines(&strided_values(v, read), lines, op).into())
        }
    }
}

/// The sums, divided by `count` in place for a mean: the output reservation covers one buffer
/// of the output's length, and a second one aborted the process where the first barely fit.
fn finish_mean<W: FloatMath + Send + Sync>(op: ReduceOp, mut sums: Vec<W>, count: f64) -> Vec<W> {
    if op == ReduceOp::Mean {
        let inv = W::from_f64(1.0 / count);
        if par::worth_parallel(sums.len()) {
            sums.par_iter_mut().for_each(|s| *s = *s * inv);
        } else {
            sums.iter_mut().for_each(|s| *s = *s * inv);
        }
    }
    sums
}

/// Variance with Bessel's `correction` (1 gives the unbiased estimate, PyTorch's default):
/// `sum((x - mean)^2) / (N - correction)`. f16 and bf16 compute in f32 (the plan admits floats).
fn variance(buf: &CpuBuffer, read: &Layout, lines: Lines, correction: usize) -> CpuBuffer {
    match buf {
        CpuBuffer::F32(v) => var_lines(&strided_values(v, read), lines, correction).into(),
        CpuBuffer::F64(v) => var_lines(&strided_values(v, read), lines, correction).into(),
        CpuBuffer::F16(v) => f16::narrow(&var_lines(&f16::widen(&strided_values(v, read)), lines, correction)).into(),
        CpuBuffer::BF16(v) => {
            bf16::narrow(&var_lines(&bf16::widen(&strided_values(v, read)), lines, correction)).into()
        }
        _ => unreachable!("the plan admits float dtypes only"),
    }
}

fn var_lines<W: FloatMath + Send + Sync>(data: &[W], l: Lines, correction: usize) -> Vec<W> {
    let inv_n = 1.0 / l.red as f64;
    let denom = W::from_f64(l.red as f64 - correction as f64);
    let mut out = Vec::with_capacity(l.pre * l.post);
    for p in 0..l.pre {
        for q in 0..l.post {
            let at = |r: usize| data[(p * l.red + r) * l.post + q];
            let mean = W::from_f64((0..l.red).map(|r| at(r).to_f64()).sum::<f64>() * inv_n);
            let ss = (0..l.red).fold(W::ZERO, |acc, r| {
                let d = at(r) - mean;
                acc + d * d
            });
            out.push(ss / denom);
        }
    }
    out
}

/// Index of the extreme of each line, as `i64`; the first one wins on ties, and a NaN counts as
/// the extreme, as in PyTorch.
fn arg_lines<W: Element>(data: &[W], l: Lines, op: ArgReduceOp) -> Vec<i64> {
    let mut out = Vec::with_capacity(l.pre * l.post);
    for p in 0..l.pre {
        for q in 0..l.post {
            let at = |r: usize| data[(p * l.red + r) * l.post + q];
            let (mut best, mut best_r) = (at(0), 0);
            for r in 1..l.red {
                if is_nan(best) {
                    break;
                }
                let x = at(r);
                if op.beats(x, best) || is_nan(x) {
                    best = x;
                    best_r = r;
                }
            }
            out.push(best_r as i64);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols).map(|i| ((i * 7919) % 1013) as f32 / 101.0 - 5.0).collect()
    }

    /// Column sums by four lines at a time, with 0 to 3 lines left over, in one block and in the
    /// bands of rows of a long fold (129 and 1031 rows): within f32 rounding of an f64 sum, and
    /// the same bits on pools of 1, 2 and 3 threads.
    #[test]
    fn column_sums_by_four_lines_match_f64_on_any_thread_count() {
        for (rows, cols) in [(1, 3), (2, 5), (5, 17), (6, 16), (8, 1), (129, 600), (1031, 70)] {
            let data = matrix(rows, cols);
            let l = Lines { pre: 1, red: rows, post: cols };
            let on = |threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| sum_lines_f32(&data, l))
            };
            let got = on(1);
            for q in 0..cols {
                let want: f64 = (0..rows).map(|r| f64::from(data[r * cols + q])).sum();
                let err = (f64::from(got[q]) - want).abs();
                assert!(
                    err <= 1e-5 * rows as f64 * (1.0 + want.abs()),
                    "[{rows}, {cols}] column {q}: {} against {want}",
                    got[q]
                );
            }
            for threads in [2, 3] {
                assert_eq!(on(threads), got, "[{rows}, {cols}] on {threads} threads");
            }
            let wide: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
            let got64 = sum_lines_apart_f64(&wide, l, l.post);
            for (q, &g) in got64.iter().enumerate() {
                let want: f64 = (0..rows).map(|r| wide[r * cols + q]).sum();
                assert!(
                    (g - want).abs() <= 1e-12 * rows as f64 * (1.0 + want.abs()),
                    "f64 [{rows}, {cols}] column {q}"
                );
            }
        }
    }

    /// Rows with padding after each (lines `ld` apart, the padding NaN so that reading it would
    /// show), summed over the rows and over every dim but the last, in f32 and f64, on one and
    /// two threads: the same bits as the rows gathered first, and the other layouts (a
    /// transposed view, lines of one value) still gathered.
    #[test]
    fn sums_read_padded_rows_in_place() {
        for (blocks, rows, cols, ld) in [(1, 5, 17, 20), (3, 4, 16, 17), (2, 700, 40, 48), (35, 32, 64, 80)] {
            let mut data = vec![f32::NAN; (blocks * rows * ld).max(1)];
            for (i, v) in data.iter_mut().enumerate().filter(|(i, _)| i % ld < cols) {
                *v = ((i * 7919) % 1013) as f32 / 101.0 - 5.0;
            }
            let read = Layout::new(Shape::new(vec![blocks, rows, cols]), vec![rows * ld, ld, 1], 0).unwrap();
            let gathered = strided_values(&data, &read).into_owned();
            let wide: Vec<f64> = data.iter().map(|&v| f64::from(v)).collect();
            for l in [Lines { pre: blocks, red: rows, post: cols }, Lines { pre: 1, red: blocks * rows, post: cols }] {
                assert_eq!(lines_apart(&read, l), Some((0, ld)), "{l:?}");
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let (got, got64) = pool.install(|| {
                        (fold(ReduceOp::Sum, &CpuBuffer::F32(data.clone()), &read, l), {
                            fold(ReduceOp::Mean, &CpuBuffer::F64(wide.clone()), &read, l)
                        })
                    });
                    let want = sum_lines_f32(&gathered, l);
                    assert_eq!(got, CpuBuffer::F32(want), "{l:?} over {read:?} on {threads} threads");
                    let gathered64: Vec<f64> = gathered.iter().map(|&v| f64::from(v)).collect();
                    let want64 = finish_mean(ReduceOp::Mean, sum_lines_apart_f64(&gathered64, l, l.post), l.red as f64);
                    assert_eq!(got64, CpuBuffer::F64(want64), "f64 {l:?} on {threads} threads");
                }
            }
        }
        let transposed = Layout::contiguous(Shape::new(vec![6, 4])).transpose(0, 1).unwrap();
        assert_eq!(lines_apart(&transposed, Lines { pre: 1, red: 4, post: 6 }), None);
        let single = Layout::new(Shape::new(vec![5, 1]), vec![3, 1], 0).unwrap();
        assert_eq!(lines_apart(&single, Lines { pre: 5, red: 1, post: 1 }), None);
    }
}
