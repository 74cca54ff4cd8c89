//! What the recurrent layers' sequence kernels ([`super::lstm_sequence`], [`super::gru_sequence`])
//! share: how the pool's threads split a recurrence into parts, how the parts run the steps, and
//! the products over the whole sequence that follow the backward recurrence.

use super::buffer::{strided_values, CpuBuffer, CpuElem};
use super::matmul::{as_uninit, batched, product, GemmElem, OutPtr, GEMM_PAR_MIN_FLOPS};
use super::par;
use super::unary::FloatMath;
use crate::plan::MatmulShape;
use gemm::Parallelism;
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tessera_core::{DType, Layout, Shape};

/// `(steps, batch, hidden)`.
pub(super) type Dims = (usize, usize, usize);

/// The part of the recurrence that one worker runs: rows `row0..row0 + rows` of the batch, and
/// units `u0..u0 + w` of each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Part {
    pub(super) row0: usize,
    pub(super) rows: usize,
    pub(super) u0: usize,
    pub(super) w: usize,
}

/// How the pool's threads split the recurrence: one part per thread when a step's product is
/// worth running in parallel. With at least 16 rows a thread, by rows: a step's product reads
/// only its own rows' previous state, so each part is a sequence of its own and no step waits for
/// another thread. Otherwise by bands of at least 16 units of every row, each step waiting for the
/// whole step before, whose state lies half in the other core's cache. The LSTM layer's step
/// (batch 32, 256 units) on two threads: see "The LSTM layer on the Zen 5" in
/// `benches/log/zen5-2026-12-06-07-lstm-and-math.md`. `gates` is how many gates a unit has (the product's columns are
/// `gates * hidden`): 4 for the LSTM, 3 for the GRU.
pub(super) fn split(batch: usize, hidden: usize, gates: usize) -> Vec<Part> {
    let threads = rayon::current_num_threads();
    let flops = batch.saturating_mul(gates * hidden).saturating_mul(hidden);
    if threads <= 1 || flops < GEMM_PAR_MIN_FLOPS {
        unit_parts(batch, hidden, 1)
    } else if batch / threads >= 16 {
        row_parts(batch, hidden, threads)
    } else {
        unit_parts(batch, hidden, threads.min(hidden / 16).max(1))
    }
}

/// Every row, its `hidden` units cut into `count` bands, widths multiples of 16 but the last.
pub(super) fn unit_parts(batch: usize, hidden: usize, count: usize) -> Vec<Part> {
    let width = if count <= 1 { hidden } else { hidden.div_ceil(count).next_multiple_of(16) };
    if width == 0 {
        return vec![Part { row0: 0, rows: batch, u0: 0, w: 0 }];
    }
    (0..hidden).step_by(width).map(|u0| Part { row0: 0, rows: batch, u0, w: width.min(hidden - u0) }).collect()
}

/// Every unit, the `batch` rows cut into `count` bands as even as they come (fewer bands than
/// `count` when there are fewer rows).
pub(super) fn row_parts(batch: usize, hidden: usize, count: usize) -> Vec<Part> {
    let count = count.clamp(1, batch.max(1));
    (0..count)
        .map(|i| {
            let row0 = batch * i / count;
            Part { row0, rows: batch * (i + 1) / count - row0, u0: 0, w: hidden }
        })
        .collect()
}

/// Runs `part(s, i)` for every step `s` of `0..steps` and every part `parts[i]`, each part's
/// steps in order. Parts of the same units (bands of rows) are sequences of their own, one per
/// worker. Parts of different units run a step only once all parts of the step before have
/// finished (a step's product reads its rows' whole previous state).
///
/// For bands of units the sequence is still one fork and join, not one per step: each of the
/// pool's workers takes its own band of a step, then spins until the step is complete. A worker
/// also takes any band of the step that nobody has claimed by the time its own is done, so the
/// sequence finishes even when rayon runs the workers one after the other on a single thread;
/// when both run, a band stays on one thread (and its weight block in that core's cache).
pub(super) fn each_step(steps: usize, parts: &[Part], part: impl Fn(usize, usize) + Sync) {
    if parts.len() == 1 {
        (0..steps).for_each(|s| part(s, 0));
        return;
    }
    if parts.iter().all(|p| (p.u0, p.w) == (parts[0].u0, parts[0].w)) {
        (0..parts.len()).into_par_iter().for_each(|i| (0..steps).for_each(|s| part(s, i)));
        return;
    }
    // Per band, how many of its steps have been claimed; and how many (step, band) pairs have
    // finished, in step order.
    let claimed: Vec<AtomicUsize> = parts.iter().map(|_| AtomicUsize::new(0)).collect();
    let finished = AtomicUsize::new(0);
    // Set by a band that panics, so that the other workers stop waiting for it and the join
    // passes the panic on instead of spinning forever.
    let abandoned = AtomicBool::new(false);
    let count = parts.len();
    par::rearm();
    (0..count).into_par_iter().for_each(|worker| {
        for s in 0..steps {
            if !par::spin_until(&finished, s * count, &abandoned) {
                return;
            }
            for i in 0..count {
                let b = (worker + i) % count;
                // A worker that reaches step `s` has tried every band of step `s - 1`, so each
                // band's count is at least `s` here: the exchange succeeds for one worker only.
                if claimed[b].compare_exchange(s, s + 1, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    par::abandon_on_panic(&abandoned, || part(s, b));
                    finished.fetch_add(1, Ordering::Release);
                }
            }
        }
    });
}

/// A vector of `len` elements, uninitialised: the caller writes every element before reading it
/// and before `set_len`.
pub(super) fn uninit<T>(len: usize) -> (Vec<T>, OutPtr<T>) {
    let mut v = Vec::with_capacity(len);
    let ptr = OutPtr(v.spare_capacity_mut().as_mut_ptr().cast::<T>());
    (v, ptr)
}

/// The element types the sequence kernels run.
pub(super) trait SequenceElem: GemmElem + FloatMath + CpuElem {}
impl SequenceElem for f32 {}
impl SequenceElem for f64 {}

/// The values of `inputs`, buffers of `T` (the caller checks their dtype), in their `layouts`.
pub(super) fn values_of<'a, T: SequenceElem, const N: usize>(
    inputs: [&'a CpuBuffer; N],
    layouts: &[Layout; N],
) -> [Cow<'a, [T]>; N] {
    std::array::from_fn(|i| strided_values(T::slice(inputs[i]).expect("dtypes checked"), &layouts[i]))
}

/// The result of `f32` or `f64`, whichever runs the sequence kernel `op` in `dtype`; an error
/// naming the dtype for any other.
pub(super) fn by_dtype<R>(
    op: &'static str,
    dtype: DType,
    f32: impl FnOnce() -> R,
    f64: impl FnOnce() -> R,
) -> crate::Result<R> {
    match dtype {
        DType::F32 => Ok(f32()),
        DType::F64 => Ok(f64()),
        _ => {
            let hint = ": the sequence kernels run f32 and f64 (the tensor layer widens f16 and bf16 to f32)";
            Err(tessera_core::Error::UnsupportedDType { op, dtype, hint }.into())
        }
    }
}

/// The layout of gate gradients `[steps, batch, cols]` whose rows lie `ld` apart.
pub(super) fn gate_grads_layout((steps, batch, _): Dims, cols: usize, ld: usize) -> Layout {
    let shape = Shape::new(vec![steps, batch, cols]);
    Layout::new(shape, vec![batch * ld, ld, 1], 0).expect("strides for a rank-3 shape")
}

fn matrix(rows: usize, cols: usize) -> Layout {
    Layout::contiguous(Shape::new(vec![rows, cols]))
}

/// `rows` rows of `cols` values, `ld` apart.
fn rows_apart(rows: usize, cols: usize, ld: usize) -> Layout {
    Layout::new(Shape::new(vec![rows, cols]), vec![ld, 1], 0).expect("strides for a rank-2 shape")
}

fn product_of<T: GemmElem>(a: &[T], al: &Layout, b: &[T], bl: &Layout) -> Vec<T> {
    let shape = MatmulShape::new("recurrence", al, bl).expect("matrix shapes agree");
    batched(a, al, b, bl, &shape, None)
}

/// `dh0 = d_0 @ w_hh` (`[batch, hidden]`), from step 0's gate gradients, the first `batch` rows of
/// `d` (`cols = gates * hidden` values each, `ld` apart), and the recurrent weight
/// (`[cols, hidden]`).
pub(super) fn initial_hidden_grad_of<T: GemmElem>(
    (batch, cols, hidden): (usize, usize, usize),
    (d, ld): (&[T], usize),
    w_hh: &[T],
) -> Vec<T> {
    product_of(&d[..batch * ld], &rows_apart(batch, cols, ld), w_hh, &matrix(cols, hidden))
}

/// `d_w_hh = Σ_t d_tᵀ @ h_{t-1}` (`[cols, hidden]`), from the gate gradients `d` (`[steps, batch,
/// cols]`, rows `ld` apart), the hidden states of steps `0..steps - 1` at the start of `out`, and
/// `h0`. Steps 1 onwards are one product over `(steps - 1) * batch` rows of `out`; step 0's term
/// is added onto it unless `h0` is all zeros (the default initial state), when it adds nothing.
pub(super) fn weight_grad<T: GemmElem + FloatMath>(
    (steps, batch, hidden): Dims,
    (d, cols, ld): (&[T], usize, usize),
    out: &[T],
    h0: &[T],
) -> Vec<T> {
    let (n, g) = (batch * hidden, batch * ld);
    // The weight's gradient is made transposed, `outᵀ @ d` (`[hidden, cols]`), then transposed
    // back: as `dᵀ @ out`, gemm packs `d` from rows `cols` apart (4 KiB for the LSTM's 256
    // units), which cost more than the transpose of the smaller result.
    let rows = (steps - 1) * batch;
    let out_later = matrix(rows, hidden).transpose(0, 1).expect("rank 2");
    let mut d_w_t = product_of(&out[..rows * hidden], &out_later, &d[g..], &rows_apart(rows, cols, ld));
    if n > 0 && h0.iter().any(|&v| v != T::ZERO) {
        let par = if rayon::current_num_threads() > 1 { Parallelism::Rayon(0) } else { Parallelism::None };
        // Step 0's term, `h0ᵀ @ d_0`: `h0` (`[batch, hidden]`) read transposed.
        let (lhs, rhs) = ((h0, (1, hidden)), (&d[..g], (ld, 1)));
        product([hidden, cols, batch], (as_uninit(&mut d_w_t), (cols, 1)), true, lhs, rhs, par);
    }
    strided_values(&d_w_t, &matrix(hidden, cols).transpose(0, 1).expect("rank 2")).into_owned()
}

#[cfg(test)]
pub(super) mod testing;
#[cfg(test)]
mod tests;
