//! Walking two broadcast operands together: the engine of binary ops and comparisons.

use super::{par, simd};
use std::mem::MaybeUninit;
use tessera_core::Layout;

/// How an operand moves along the inner run of elements.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Consecutive elements.
    Contiguous,
    /// The same element repeated (broadcast).
    Repeat,
}

/// Two layouts of the same shape split into an inner run, over which each operand is either
/// contiguous or repeated, and outer dims walked by index.
struct ZipWalk {
    outer_dims: Vec<usize>,
    lhs_outer: Vec<usize>,
    rhs_outer: Vec<usize>,
    inner_len: usize,
    lhs_step: Step,
    rhs_step: Step,
}

impl ZipWalk {
    fn new(lhs: &Layout, rhs: &Layout) -> Self {
        let dims = lhs.dims();
        let (ls, rs) = (lhs.strides(), rhs.strides());
        let mut inner_len = 1;
        let mut steps: [Option<Step>; 2] = [None, None];
        let mut split = dims.len();
        'dims: while split > 0 {
            let d = split - 1;
            if dims[d] != 1 {
                for (k, &stride) in [ls[d], rs[d]].iter().enumerate() {
                    let step = match steps[k] {
                        None if stride == 0 => Step::Repeat,
                        None if stride == inner_len => Step::Contiguous,
                        None => break 'dims,
                        Some(s) => s,
                    };
                    let ok = match step {
                        Step::Repeat => stride == 0,
                        Step::Contiguous => stride == inner_len,
                    };
                    if !ok {
                        break 'dims;
                    }
                    steps[k] = Some(step);
                }
                // Saturating: only an empty output's dims multiply past a usize, and it is not walked.
                inner_len = inner_len.saturating_mul(dims[d]);
            }
            split = d;
        }
        ZipWalk {
            outer_dims: dims[..split].to_vec(),
            lhs_outer: ls[..split].to_vec(),
            rhs_outer: rs[..split].to_vec(),
            inner_len,
            lhs_step: steps[0].unwrap_or(Step::Repeat),
            rhs_step: steps[1].unwrap_or(Step::Repeat),
        }
    }

    /// Buffer offsets (relative to each layout's offset) of the first element of outer row `row`.
    fn row_offsets(&self, mut row: usize) -> (usize, usize) {
        let (mut lo, mut ro) = (0, 0);
        for d in (0..self.outer_dims.len()).rev() {
            let i = row % self.outer_dims[d];
            row /= self.outer_dims[d];
            lo += i * self.lhs_outer[d];
            ro += i * self.rhs_outer[d];
        }
        (lo, ro)
    }
}

/// `f(lhs[i], rhs[i])` for every element of two layouts of the same shape, in row-major order.
pub(crate) fn zip_map<T, U, F>(lhs: &[T], ll: &Layout, rhs: &[T], rl: &Layout, f: F) -> Vec<U>
where
    T: Copy + Sync,
    U: Send,
    F: Fn(T, T) -> U + Sync,
{
    let plan = ZipWalk::new(ll, rl);
    let n = ll.elem_count();
    let (lbase, rbase) = (ll.offset(), rl.offset());
    let fill = |start: usize, out: &mut [MaybeUninit<U>]| {
        let mut done = 0;
        let mut row = start / plan.inner_len.max(1);
        let mut col = start % plan.inner_len.max(1);
        while done < out.len() {
            let (lo, ro) = plan.row_offsets(row);
            let len = (plan.inner_len - col).min(out.len() - done);
            let dst = &mut out[done..done + len];
            let (l0, r0) = (lbase + lo, rbase + ro);
            match (plan.lhs_step, plan.rhs_step) {
                (Step::Contiguous, Step::Contiguous) => {
                    simd::zip_into(&lhs[l0 + col..l0 + col + len], &rhs[r0 + col..r0 + col + len], dst, &f)
                }
                (Step::Contiguous, Step::Repeat) => {
                    simd::zip_scalar_into(&lhs[l0 + col..l0 + col + len], rhs[r0], dst, &f)
                }
                (Step::Repeat, Step::Contiguous) => {
                    simd::scalar_zip_into(lhs[l0], &rhs[r0 + col..r0 + col + len], dst, &f)
                }
                (Step::Repeat, Step::Repeat) => {
                    for o in dst.iter_mut() {
                        o.write(f(lhs[l0], rhs[r0]));
                    }
                }
            }
            done += len;
            row += 1;
            col = 0;
        }
    };
    par::build_vec(n, 64, fill)
}
