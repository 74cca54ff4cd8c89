//! Comparisons giving `u8` masks, and `where`.

use super::buffer::{dispatch, expect_dtype, strided_values, CpuBuffer};
use super::par;
use super::simd::{self, Select};
use super::zip::zip_map;
use crate::ops::CmpOp;
use crate::plan::{ComparePlan, WherePlan};
use crate::Result;
use std::borrow::Cow;
use tessera_core::{DType, Layout};

/// The plan's comparison over its two broadcast operands: a `u8` mask, 1 where it holds.
pub fn compare(plan: &ComparePlan, lhs: &CpuBuffer, rhs: &CpuBuffer) -> Result<CpuBuffer> {
    let (op, ll, rl) = (plan.op, &plan.zip.lhs, &plan.zip.rhs);
    expect_dtype(op.name(), plan.zip.dtype, &[lhs, rhs])?;
    let mask: Vec<u8> = match (lhs, rhs) {
        (CpuBuffer::F32(a), CpuBuffer::F32(b)) => cmp(op, a, ll, b, rl),
        (CpuBuffer::F64(a), CpuBuffer::F64(b)) => cmp(op, a, ll, b, rl),
        (CpuBuffer::F16(a), CpuBuffer::F16(b)) => cmp(op, a, ll, b, rl),
        (CpuBuffer::BF16(a), CpuBuffer::BF16(b)) => cmp(op, a, ll, b, rl),
        (CpuBuffer::U8(a), CpuBuffer::U8(b)) => cmp(op, a, ll, b, rl),
        (CpuBuffer::U32(a), CpuBuffer::U32(b)) => cmp(op, a, ll, b, rl),
        (CpuBuffer::I64(a), CpuBuffer::I64(b)) => cmp(op, a, ll, b, rl),
        _ => unreachable!("dtypes checked equal above"),
    };
    Ok(mask.into())
}

/// One comparison loop per row of the table, each with the row's formula inlined.
macro_rules! cmp_loops {
    ($($(#[doc = $doc:literal])* $variant:ident => $method:ident { |$a:ident, $b:ident| $formula:expr };)*) => {
        fn cmp<T: PartialOrd + Copy + Sync>(op: CmpOp, a: &[T], ll: &Layout, b: &[T], rl: &Layout) -> Vec<u8> {
            match op {
                $(CmpOp::$variant => zip_map(a, ll, b, rl, |$a: T, $b: T| ($formula) as u8),)*
            }
        }
    };
}
crate::compare_op_table!(cmp_loops);

/// `mask ? on_true : on_false` elementwise over the plan's broadcast views (nonzero is true).
pub fn where_cond(plan: &WherePlan, mask: &CpuBuffer, on_true: &CpuBuffer, on_false: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("where", DType::U8, &[mask])?;
    expect_dtype("where", plan.dtype, &[on_true, on_false])?;
    let CpuBuffer::U8(m) = mask else { unreachable!("dtypes checked above") };
    // Each operand made contiguous first, but a broadcast scalar kept as one value: one plain
    // branch-free loop then picks, instead of three strided index walks per element.
    let m = strided_values(m, &plan.mask);
    Ok(dispatch!(on_true, t => {
        let f = on_false.as_slice().expect("dtypes checked equal above");
        let (t, f) = (Operand::new(t, &plan.on_true), Operand::new(f, &plan.on_false));
        CpuBuffer::from(par::build_vec(m.len(), 64, |start, out| {
            let span = start..start + out.len();
            let m = &m[span.clone()];
            match (&t, &f) {
                (Operand::Values(t), Operand::Values(f)) => simd::select_into(m, &t[span.clone()], &f[span], out),
                (Operand::Values(t), &Operand::Fill(f)) => simd::select_fill_into(m, false, f, &t[span], out),
                (&Operand::Fill(t), Operand::Values(f)) => simd::select_fill_into(m, true, t, &f[span], out),
                (&Operand::Fill(t), &Operand::Fill(f)) => {
                    for (o, &m) in out.iter_mut().zip(m) {
                        o.write(Select::select(m != 0, f, t));
                    }
                }
            }
        }))
    }))
}

/// A value operand of `where`: its values in order, or the one value a broadcast scalar repeats.
enum Operand<'a, T: Clone> {
    Values(Cow<'a, [T]>),
    Fill(T),
}

impl<'a, T: Copy + Send + Sync> Operand<'a, T> {
    fn new(data: &'a [T], layout: &Layout) -> Self {
        let repeats_one = layout.dims().iter().zip(layout.strides()).all(|(&d, &s)| d == 1 || s == 0);
        match data.get(layout.offset()) {
            Some(&v) if repeats_one => Operand::Fill(v),
            _ => Operand::Values(strided_values(data, layout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Arg;
    use tessera_core::Shape;

    /// `where` with each side a full tensor, a broadcast scalar (rank 0 and all-ones dims) or a
    /// broadcast row, on one and on two threads, over sizes below and above the parallel split.
    #[test]
    fn where_picks_from_full_broadcast_and_scalar_operands() {
        let rows = 3;
        for cols in [5, par::PAR_MIN_ELEMS / 2 + 9] {
            let len = rows * cols;
            let full = Layout::contiguous(Shape::new(vec![rows, cols]));
            let mask: Vec<u8> = (0..len).map(|i| (i * 7 % 5 < 2) as u8 * (i % 3 + 1) as u8).collect();
            let a: Vec<i64> = (0..len as i64).collect();
            let b: Vec<i64> = (0..len as i64).map(|i| -i - 1).collect();
            let scalar = Layout::contiguous(Shape::new(vec![]));
            let ones = Layout::contiguous(Shape::new(vec![1, 1]));
            let row = Layout::contiguous(Shape::new(vec![1, cols]));
            // (layout, buffer, value at element i)
            type Side<'a> = (&'a Layout, Vec<i64>, Box<dyn Fn(usize) -> i64>);
            let sides = |base: i64, data: &Vec<i64>| -> Vec<Side> {
                let (d1, d2) = (data.clone(), data.clone());
                vec![
                    (&full, data.clone(), Box::new(move |i| d1[i])),
                    (&scalar, vec![base], Box::new(move |_| base)),
                    (&ones, vec![base + 1], Box::new(move |_| base + 1)),
                    (&row, data[..cols].to_vec(), Box::new(move |i| d2[i % cols])),
                ]
            };
            for (tl, t, tv) in sides(100, &a) {
                for (fl, f, fv) in sides(-100, &b) {
                    let plan =
                        WherePlan::new(Arg::new(DType::U8, &full), Arg::new(DType::I64, tl), Arg::new(DType::I64, fl))
                            .unwrap();
                    let want: Vec<i64> = (0..len).map(|i| if mask[i] != 0 { tv(i) } else { fv(i) }).collect();
                    for threads in [1, 2] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                        let (m, t, f) =
                            (CpuBuffer::U8(mask.clone()), CpuBuffer::I64(t.clone()), CpuBuffer::I64(f.clone()));
                        let got = pool.install(|| where_cond(&plan, &m, &t, &f)).unwrap();
                        assert!(
                            got == CpuBuffer::I64(want.clone()),
                            "{:?} / {:?}, {len} elements, {threads} threads",
                            tl.dims(),
                            fl.dims()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn where_keeps_float_bits_exactly() {
        let l = Layout::contiguous(Shape::new(vec![4]));
        let plan = WherePlan::new(Arg::new(DType::U8, &l), Arg::new(DType::F32, &l), Arg::new(DType::F32, &l)).unwrap();
        let (t, f) =
            (vec![f32::NAN, -0.0, f32::INFINITY, 1.5], vec![0.0, 2.0, f32::NEG_INFINITY, f32::MIN_POSITIVE / 2.0]);
        let got = where_cond(&plan, &CpuBuffer::U8(vec![1, 1, 0, 0]), &CpuBuffer::F32(t), &CpuBuffer::F32(f)).unwrap();
        let CpuBuffer::F32(got) = got else { panic!("dtype") };
        let bits: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            bits,
            [f32::NAN.to_bits(), (-0.0f32).to_bits(), f32::NEG_INFINITY.to_bits(), (f32::MIN_POSITIVE / 2.0).to_bits()]
        );
    }
}
