//! Comparisons giving `u8` masks, and `where`.

use super::buffer::{dispatch, expect_dtype, strided_values, CpuBuffer};
use super::zip::zip_map;
use crate::ops::CmpOp;
use crate::plan::{ComparePlan, WherePlan};
use crate::Result;
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
    let CpuBuffer::U8(m) = mask else { unreachable!("dtype checked above") };
    // Each operand made contiguous first (a broadcast scalar becomes a fill): one plain zip
    // then picks, instead of three strided index walks per element.
    let m = strided_values(m, &plan.mask);
    Ok(dispatch!(on_true, t => {
        let f = on_false.as_slice().expect("dtypes checked equal above");
        let (t, f) = (strided_values(t, &plan.on_true), strided_values(f, &plan.on_false));
        let picked: Vec<_> = m.iter().zip(t.iter().zip(f.iter())).map(|(&m, (&t, &f))| if m != 0 { t } else { f }).collect();
        CpuBuffer::from(picked)
    }))
}
