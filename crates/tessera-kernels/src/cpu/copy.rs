//! Copies: strided to contiguous, and concatenation.

use super::buffer::{dispatch, expect_dtype, strided_values, write_copy, CpuBuffer, CpuElem};
use super::par;
use crate::plan::CatPlan;
use crate::Result;
use tessera_core::Layout;

/// The elements selected by `layout`, copied into a new contiguous buffer.
pub fn copy_strided(buf: &CpuBuffer, layout: &Layout) -> CpuBuffer {
    dispatch!(buf, v => CpuBuffer::from(strided_values(v, layout).into_owned()))
}

/// Concatenates `inputs` (the plan's views, in order) along the plan's dim; contiguous result.
pub fn cat(plan: &CatPlan, inputs: &[&CpuBuffer]) -> Result<CpuBuffer> {
    expect_dtype("cat", plan.dtype, inputs)?;
    let outer: usize = plan.out_shape.dims()[..plan.dim].iter().product();
    Ok(dispatch!(inputs[0], v => cat_typed(v, plan, inputs, outer)))
}

fn cat_typed<T: CpuElem>(_type_of: &[T], plan: &CatPlan, inputs: &[&CpuBuffer], outer: usize) -> CpuBuffer {
    let inner = plan.inner();
    let parts: Vec<(std::borrow::Cow<'_, [T]>, usize)> = inputs
        .iter()
        .zip(&plan.inputs)
        .map(|(&buf, layout)| {
            let data = T::slice(buf).expect("dtypes checked equal");
            (strided_values(data, layout), layout.dims()[plan.dim] * inner)
        })
        .collect();
    let row: usize = parts.iter().map(|(_, block)| block).sum();
    if row == 0 {
        return T::wrap(Vec::new());
    }
    // Output row `o` is every part's block `o` in turn; large outputs are filled on several threads.
    T::wrap(par::build_vec(outer * row, row, |start, rows| {
        for (r, dst) in rows.chunks_mut(row).enumerate() {
            let o = start / row + r;
            let mut at = 0;
            for (data, block) in &parts {
                write_copy(&mut dst[at..at + block], &data[o * block..(o + 1) * block]);
                at += block;
            }
        }
    }))
}
