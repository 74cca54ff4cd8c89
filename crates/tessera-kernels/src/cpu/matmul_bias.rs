//! A bias added to a product as one more term of its inner sum: `x @ w + b` is
//! `[x, 1] @ [w; b]`, a product of inner size `k + 1`.
//!
//! Accumulated the plain way, the bias is first written into every row of the output and gemm then
//! reads the output back to add onto it: two passes over `m × n` values besides the product's own
//! write. The augmented operands cost a copy of `(m + n) × (k + 1)` values instead, which is far
//! less where the output is large next to both operands: a linear layer over many rows (the LSTM's
//! input projection, `[1120, 128] @ [128, 1024]`) or a vocabulary (the LM's decoder,
//! `[1120, 256] @ [256, 5000]`).

use super::buffer::strided_values;
use super::matmul::GemmElem;
use super::par;
use tessera_core::{Layout, Shape};

/// Whether the product `[m, k] @ [k, n]` takes its bias as an inner term: when copying both
/// operands, one column and one row longer, moves at most half as many values as the output.
pub(super) fn takes(m: usize, k: usize, n: usize) -> bool {
    let copied = m.saturating_add(n).saturating_mul(k.saturating_add(1));
    copied.saturating_mul(2) <= m.saturating_mul(n)
}

/// A matrix as its first element's index in `data` and its (row, column) strides.
pub(super) type Strided<'a, T> = (&'a [T], usize, (usize, usize));

/// The left operand `[m, k]` with a column of ones after its last: `[m, k + 1]`, row-major.
pub(super) fn lhs_with_ones<T: GemmElem>((data, at, strides): Strided<'_, T>, m: usize, k: usize) -> Vec<T> {
    rows_followed_by(data, at, strides, (m, k), |_| T::ONE)
}

/// The right operand `[k, n]` with `bias` (`n` long) as a last row, and the (row, column) strides
/// to read it by as `[k + 1, n]`. A weight seen transposed (rows of stride 1) stays transposed,
/// each of its stored rows followed by its bias; any other is laid out `[k + 1, n]` row-major.
///
/// (No weight that `super::matmul` would make contiguous before gemm gets here: that takes
/// `k >= n`, and then the operands are larger than half the output.)
pub(super) fn rhs_with_bias<T: GemmElem>(
    (data, at, (rs, cs)): Strided<'_, T>,
    (k, n): (usize, usize),
    bias: &[T],
) -> (Vec<T>, (usize, usize)) {
    if rs == 1 {
        // Stored `[n, k]`: row `j` of the storage is column `j` of the operand.
        (rows_followed_by(data, at, (cs, 1), (n, k), |j| bias[j]), (1, k + 1))
    } else {
        let layout = Layout::new(Shape::new(vec![k, n]), vec![rs, cs], at).expect("the operand's own strides");
        let mut values = strided_values(data, &layout).into_owned();
        values.extend_from_slice(bias);
        (values, (n, 1))
    }
}

/// `rows` rows of `cols` values (strides `(rs, cs)` from `at`), each followed by `last(row)`:
/// `[rows, cols + 1]`, row-major, written by the pool's threads when large.
fn rows_followed_by<T: GemmElem>(
    data: &[T],
    at: usize,
    (rs, cs): (usize, usize),
    (rows, cols): (usize, usize),
    last: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let width = cols + 1;
    par::build_vec(rows * width, width, |start, chunk| {
        for (i, dst) in chunk.chunks_mut(width).enumerate() {
            let (row, base) = (start / width + i, at + (start / width + i) * rs);
            let (values, end) = dst.split_at_mut(cols);
            if cs == 1 {
                super::buffer::write_copy(values, &data[base..base + cols]);
            } else {
                for (c, v) in values.iter_mut().enumerate() {
                    v.write(data[base + c * cs]);
                }
            }
            end[0].write(last(row));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::matmul::batched;
    use super::super::test_values::values;
    use super::*;
    use crate::plan::MatmulShape;

    fn layout(dims: &[usize]) -> Layout {
        Layout::contiguous(Shape::new(dims.to_vec()))
    }

    /// `a @ b + bias` in f64, row by row, for operands given as layouts over `a` and `b`.
    fn reference(a: &[f64], al: &Layout, b: &[f64], bl: &Layout, bias: &[f64]) -> Vec<f64> {
        let (a, b) = (strided_values(a, al).into_owned(), strided_values(b, bl).into_owned());
        let b = &b;
        let (k, n) = (bl.dims()[0], bl.dims()[1]);
        a.chunks(k)
            .flat_map(|row| (0..n).map(move |j| bias[j] + (0..k).map(|c| row[c] * b[c * n + j]).sum::<f64>()))
            .collect()
    }

    /// Through the inner term, the product with a bias equals the reference for every operand
    /// layout that reaches it: a weight seen transposed (as a linear layer has it), one whose
    /// stored rows are longer than the operand's columns, a plain right operand and one whose
    /// rows are further apart than its width, a left operand seen transposed, and a batch of left
    /// matrices folded into one.
    #[test]
    fn a_bias_as_an_inner_term_matches_the_reference() {
        let padded = |dims: [usize; 2], strides: [usize; 2]| {
            Layout::new(Shape::new(dims.to_vec()), strides.to_vec(), 0).unwrap()
        };
        let cases = [
            ("weight seen transposed", layout(&[300, 40]), layout(&[200, 40]).transpose(0, 1).unwrap()),
            ("stored rows longer than the columns", layout(&[300, 40]), padded([40, 200], [1, 48])),
            ("plain right operand", layout(&[300, 40]), layout(&[40, 200])),
            ("right rows further apart than its width", layout(&[300, 40]), padded([40, 200], [256, 1])),
            (
                "left operand seen transposed",
                layout(&[40, 300]).transpose(0, 1).unwrap(),
                layout(&[200, 40]).transpose(0, 1).unwrap(),
            ),
            ("batch of left matrices", layout(&[3, 100, 40]), layout(&[200, 40]).transpose(0, 1).unwrap()),
        ];
        for (case, al, bl) in cases {
            let storage = |l: &Layout| l.offsets().max().map_or(0, |last| last + 1);
            let (a, b) = (values(storage(&al), 1), values(storage(&bl), 2));
            let s = MatmulShape::new("matmul_bias", &al, &bl).unwrap();
            assert!(takes(s.count() * s.m, s.k, s.n), "{case}: the shape takes the inner term");
            let bias = values(s.n, 3);
            let got = batched(&a, &al, &b, &bl, &s, Some((&bias, &layout(&[s.n]))));
            let flat = layout(&[s.count() * s.m, s.k]);
            let flat_a = strided_values(&a, &al).into_owned();
            let want = reference(&flat_a, &flat, &b, &bl, &bias);
            assert_eq!(got.len(), want.len(), "{case}");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "{case}: element {i}: {g} against {w}");
            }
        }
    }

    /// The rule: operands copied one column and one row longer must move at most half as many
    /// values as the output holds.
    #[test]
    fn only_outputs_large_next_to_their_operands_take_it() {
        assert!(takes(1120, 128, 1024)); // the LSTM's input projection
        assert!(takes(1120, 256, 5000)); // the LM's decoder
        assert!(!takes(32, 784, 512)); // a batch of 32 rows
        assert!(!takes(768, 512, 128)); // GPT's MLP down-projection
    }
}
