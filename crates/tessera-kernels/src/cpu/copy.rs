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
    if plan.out_shape.elem_count() == 0 {
        return Ok(CpuBuffer::zeros(plan.dtype, 0));
    }
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
    // Output row `o` is every part's block `o` in turn. Large outputs are filled on several
    // threads in chunks that may start and end inside a row: a `stack` along dim 0 is one row.
    T::wrap(par::build_vec(outer * row, CAT_ALIGN, |start, dst| {
        let mut done = 0;
        while done < dst.len() {
            let (o, mut at) = ((start + done) / row, (start + done) % row);
            let mut parts = parts.iter();
            let (data, offset) = loop {
                let (data, block) = parts.next().expect("a position inside the row is inside a part");
                if at < *block {
                    break (&data[o * block..(o + 1) * block], at);
                }
                at -= block;
            };
            let n = (data.len() - offset).min(dst.len() - done);
            write_copy(&mut dst[done..done + n], &data[offset..offset + n]);
            done += n;
        }
    }))
}

/// Elements per cache line of f32: the chunks of a parallel `cat` start on line boundaries.
const CAT_ALIGN: usize = 16;
