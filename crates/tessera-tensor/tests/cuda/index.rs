//! index_select, gather and scatter_add on the GPU against the CPU, with u32 and i64 indices.

use crate::common::cuda::*;
use tessera_tensor::{DType, Device, Result};

pub fn indexing(dev: &Device) -> Result<()> {
    let dev = *dev;
    for dtype in FLOATS.into_iter().chain(INTS) {
        let (c, g) = pair(&dev, dtype, &BASE, 40, 0.0, 9.0)?;
        for idt in [DType::U32, DType::I64] {
            let (ci, gi) = pair(&dev, idt, &[9], 41, 0.0, 5.0)?;
            for (name, view) in VIEWS {
                let (cv, gv) = (view(&c)?, view(&g)?);
                let what = format!("index_select {dtype} {idt} {name}");
                check(
                    &what,
                    dtype,
                    &cv.index_select(0, &ci.narrow(0, 0, 3)?),
                    &gv.index_select(0, &gi.narrow(0, 0, 3)?),
                );
                let (cx, gx) = (ci.narrow(0, 0, 2)?.reshape([2, 1, 1])?, gi.narrow(0, 0, 2)?.reshape([2, 1, 1])?);
                let (cx, gx) = (cx.expand([2, 3, 4])?, gx.expand([2, 3, 4])?);
                check(&format!("gather {dtype} {idt} {name}"), dtype, &cv.gather(0, &cx), &gv.gather(0, &gx));
            }
            // scatter_add with repeated indices: atomics must add every contribution.
            let (cb, gb) = pair(&dev, dtype, &[4, 6], 42, 0.0, 3.0)?;
            let (cs, gs) = pair(&dev, dtype, &[9, 6], 43, 0.0, 3.0)?;
            let (cidx, gidx) = pair(&dev, idt, &[9, 6], 44, 0.0, 4.0)?;
            let t = if dtype.is_int() {
                (0.0, 0.0)
            } else {
                let (a, r) = tol(dtype);
                (4.0 * a, 4.0 * r)
            };
            check_tol(
                &format!("scatter_add {dtype} {idt}"),
                t,
                &cb.scatter_add(0, &cidx, &cs),
                &gb.scatter_add(0, &gidx, &gs),
            );
            // An out-of-range index is an error on both devices.
            let (bad_c, bad_g) = pair(&dev, idt, &[2], 45, 7.0, 8.0)?;
            check("index out of range", dtype, &c.index_select(0, &bad_c), &g.index_select(0, &bad_g));
        }
    }
    Ok(())
}
