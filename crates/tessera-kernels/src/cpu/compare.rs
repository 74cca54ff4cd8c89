//! Comparisons giving `u8` masks, and `where`.

use super::binary::{broadcast_pair, same_dtype};
use super::buffer::{dispatch, CpuBuffer};
use super::zip::zip_map;
use crate::ops::CmpOp;
use crate::Result;
use tessera_core::{broadcast_shapes, Error, Layout, Shape};

/// `op(lhs, rhs)` elementwise after broadcasting: a `u8` mask, 1 where the comparison holds.
pub fn compare(op: CmpOp, lhs: &CpuBuffer, ll: &Layout, rhs: &CpuBuffer, rl: &Layout) -> Result<(CpuBuffer, Shape)> {
    same_dtype(op.name(), lhs, rhs)?;
    let (shape, ll, rl) = broadcast_pair(op.name(), ll, rl)?;
    let mask: Vec<u8> = match (lhs, rhs) {
        (CpuBuffer::F32(a), CpuBuffer::F32(b)) => cmp(op, a, &ll, b, &rl),
        (CpuBuffer::F64(a), CpuBuffer::F64(b)) => cmp(op, a, &ll, b, &rl),
        (CpuBuffer::F16(a), CpuBuffer::F16(b)) => cmp(op, a, &ll, b, &rl),
        (CpuBuffer::BF16(a), CpuBuffer::BF16(b)) => cmp(op, a, &ll, b, &rl),
        (CpuBuffer::U8(a), CpuBuffer::U8(b)) => cmp(op, a, &ll, b, &rl),
        (CpuBuffer::U32(a), CpuBuffer::U32(b)) => cmp(op, a, &ll, b, &rl),
        (CpuBuffer::I64(a), CpuBuffer::I64(b)) => cmp(op, a, &ll, b, &rl),
        _ => unreachable!("dtypes checked equal above"),
    };
    Ok((mask.into(), shape))
}

fn cmp<T: PartialOrd + Copy + Sync>(op: CmpOp, a: &[T], ll: &Layout, b: &[T], rl: &Layout) -> Vec<u8> {
    match op {
        CmpOp::Eq => zip_map(a, ll, b, rl, |x: T, y: T| (x == y) as u8),
        CmpOp::Ne => zip_map(a, ll, b, rl, |x: T, y: T| (x != y) as u8),
        CmpOp::Lt => zip_map(a, ll, b, rl, |x: T, y: T| (x < y) as u8),
        CmpOp::Le => zip_map(a, ll, b, rl, |x: T, y: T| (x <= y) as u8),
        CmpOp::Gt => zip_map(a, ll, b, rl, |x: T, y: T| (x > y) as u8),
        CmpOp::Ge => zip_map(a, ll, b, rl, |x: T, y: T| (x >= y) as u8),
    }
}

/// `mask ? on_true : on_false` elementwise, all three broadcast to their common shape. The mask
/// must be `u8` (nonzero is true); the two values must share a dtype.
pub fn where_cond(
    mask: &CpuBuffer,
    ml: &Layout,
    on_true: &CpuBuffer,
    tl: &Layout,
    on_false: &CpuBuffer,
    fl: &Layout,
) -> Result<(CpuBuffer, Shape)> {
    let CpuBuffer::U8(m) = mask else {
        return Err(Error::UnsupportedDType {
            op: "where",
            dtype: mask.dtype(),
            hint: " for the mask (expected u8, as comparisons give)",
        }
        .into());
    };
    same_dtype("where", on_true, on_false)?;
    let shape = broadcast_shapes(ml.shape(), tl.shape(), "where")?;
    let shape = broadcast_shapes(&shape, fl.shape(), "where")?;
    let (ml, tl, fl) = (ml.broadcast_as(&shape)?, tl.broadcast_as(&shape)?, fl.broadcast_as(&shape)?);
    let out = dispatch!(on_true, t => {
        let f = on_false.as_slice().expect("dtypes checked equal above");
        let picked: Vec<_> = ml
            .offsets()
            .zip(tl.offsets().zip(fl.offsets()))
            .map(|(mo, (to, fo))| if m[mo] != 0 { t[to] } else { f[fo] })
            .collect();
        CpuBuffer::from(picked)
    });
    Ok((out, shape))
}
