//! Casts between dtypes (`kernels/cast.cu`).

use super::buffer::CudaBuffer;
use super::copy::copy_strided;
use super::launch::{elementwise, launch, strided, Args};
use super::source::CAST;
use crate::Result;
use tessera_core::{DType, Layout};

/// The elements selected by `layout`, converted to `dtype` with the CPU's rules
/// ([`crate::cpu::cast`]).
pub fn cast(buf: &CudaBuffer, layout: &Layout, dtype: DType) -> Result<CudaBuffer> {
    if dtype == buf.dtype() {
        return copy_strided(buf, layout);
    }
    let n = layout.elem_count();
    let out = CudaBuffer::alloc(buf.device(), dtype, n)?;
    if n > 0 {
        let name = format!("cast_{}_{}", buf.dtype().as_str(), dtype.as_str());
        let args = Args::new().u64(n as u64).view(&strided(layout)?).buf(buf).buf(&out);
        launch(buf.device(), &CAST, &name, elementwise(n), args)?;
    }
    Ok(out)
}
