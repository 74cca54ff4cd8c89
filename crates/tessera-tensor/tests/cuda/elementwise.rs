//! Elementwise ops on the GPU against the CPU: every example of the unary table (every dtype the
//! op supports), every binary op and comparison over broadcast pairs, and `where`.

use crate::common::cuda::*;
use tessera_tensor::{BinaryOp, CmpOp, DType, Device, Result, UnaryOp};

pub fn unary(dev: &Device) -> Result<()> {
    let dev = *dev;
    for dtype in FLOATS.into_iter().chain(INTS) {
        for &op in UnaryOp::EXAMPLES {
            let (lo, hi) = if dtype.is_int() { (0.0, 20.0) } else { op.domain().bounds() };
            let (c, g) = pair(&dev, dtype, &BASE, 1, lo, hi)?;
            for (name, view) in VIEWS {
                let what = format!("{} {dtype} {name}", op.name());
                check(&what, dtype, &view(&c)?.unary(op), &view(&g)?.unary(op));
            }
        }
    }
    Ok(())
}

/// Broadcast pairs of shapes, including scalars and size-0 dims.
const SHAPES: [(&[usize], &[usize]); 6] = [
    (&[5, 7, 6], &[5, 7, 6]),
    (&[5, 1, 6], &[7, 1]),
    (&[6], &[3, 1]),
    (&[], &[4, 2]),
    (&[0, 3], &[3]),
    (&[4, 3], &[1]),
];

pub fn binary_and_compare(dev: &Device) -> Result<()> {
    let dev = *dev;
    for dtype in FLOATS.into_iter().chain(INTS) {
        for (k, (sa, sb)) in SHAPES.iter().enumerate() {
            let (lo, hi) = if dtype.is_int() { (1.0, 50.0) } else { (0.2, 3.0) };
            let (ca, ga) = pair(&dev, dtype, sa, 10 + k as u64, lo, hi)?;
            let (cb, gb) = pair(&dev, dtype, sb, 20 + k as u64, lo, hi)?;
            for &op in BinaryOp::ALL {
                let what = format!("{} {dtype} {sa:?} {sb:?}", op.name());
                check(&what, dtype, &ca.binary(op, &cb), &ga.binary(op, &gb));
            }
            for &op in CmpOp::ALL {
                let what = format!("{} {dtype} {sa:?} {sb:?}", op.name());
                check(&what, dtype, &ca.compare(op, &cb), &ga.compare(op, &gb));
                check(&what, dtype, &ca.compare(op, &ca), &ga.compare(op, &ga));
            }
            let (cm, gm) = (ca.compare(CmpOp::Gt, &cb)?, ga.compare(CmpOp::Gt, &gb)?);
            check(&format!("where {dtype} {sa:?} {sb:?}"), dtype, &cm.where_cond(&ca, &cb), &gm.where_cond(&ga, &gb));
        }
        // Strided operands: a transposed view against a narrowed one.
        let (c, g) = pair(&dev, dtype, &BASE, 3, 1.0, 9.0)?;
        let (cv, gv) = (c.transpose(0, 1)?, g.transpose(0, 1)?);
        let (cw, gw) = (c.narrow(0, 0, 1)?.transpose(0, 1)?, g.narrow(0, 0, 1)?.transpose(0, 1)?);
        check(&format!("mul strided {dtype}"), dtype, &cv.mul(&cw), &gv.mul(&gw));
    }
    // Integer division by zero is an error on both devices.
    let (c, g) = pair(&dev, DType::I64, &[3], 5, 0.0, 0.5)?;
    check("i64 div by zero", DType::I64, &c.div(&c), &g.div(&g));
    Ok(())
}
