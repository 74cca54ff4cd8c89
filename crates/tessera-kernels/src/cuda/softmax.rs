//! Softmax and log-softmax along a dim (`kernels/softmax.cu`).

use super::buffer::CudaBuffer;
use super::copy::copy_strided;
use super::launch::{launch, sfx, strided, Args, Shape3};
use super::source::SOFTMAX;
use crate::Result;
use tessera_core::{Error, Layout};

/// Softmax along `dim` (max-subtracted), float dtypes.
pub fn softmax(buf: &CudaBuffer, layout: &Layout, dim: usize) -> Result<CudaBuffer> {
    along_dim("softmax", buf, layout, dim)
}

/// Log-softmax along `dim`, float dtypes.
pub fn log_softmax(buf: &CudaBuffer, layout: &Layout, dim: usize) -> Result<CudaBuffer> {
    along_dim("log_softmax", buf, layout, dim)
}

fn along_dim(op: &'static str, buf: &CudaBuffer, layout: &Layout, dim: usize) -> Result<CudaBuffer> {
    let rank = layout.rank();
    if dim >= rank {
        return Err(Error::DimOutOfRange { op, dim: dim as isize, shape: layout.shape().clone() }.into());
    }
    if !buf.dtype().is_float() {
        return Err(Error::UnsupportedDType { op, dtype: buf.dtype(), hint: " (cast to a float dtype first)" }.into());
    }
    let mut perm: Vec<usize> = (0..rank).filter(|&d| d != dim).collect();
    perm.push(dim);
    let moved = layout.permute(&perm)?;
    let len = layout.dims()[dim];
    let n = layout.elem_count();
    let out = CudaBuffer::alloc(buf.device(), buf.dtype(), n)?;
    if n > 0 {
        let rows = n / len;
        let block = if len >= 1024 {
            512
        } else if len >= 256 {
            256
        } else {
            64
        };
        let shape = Shape3 { grid: rows.min(1 << 16) as u32, block };
        let args = Args::new().u64(rows as u64).u64(len as u64).view(&strided(&moved)?).buf(buf).buf(&out);
        launch(buf.device(), &SOFTMAX, &format!("{op}_{}", sfx(buf.dtype())), shape, args)?;
    }
    if dim == rank - 1 {
        return Ok(out);
    }
    let mut inverse = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    let back = Layout::contiguous(moved.shape().clone()).permute(&inverse)?;
    copy_strided(&out, &back)
}
