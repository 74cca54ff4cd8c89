//! Launching kernels: argument packing, the by-value strided view the kernels index with, and
//! launch shapes.

use super::buffer::CudaBuffer;
use super::device::CudaDevice;
use super::source::KernelModule;
use crate::{Error, Result};
use cudarc::driver::result;
use std::ffi::c_void;
use tessera_core::{DType, Layout};

/// Most dims a view passed to a kernel may have after merging (`TS_MAX_DIMS` in common.cuh).
pub const MAX_DIMS: usize = 8;
/// Threads per block of elementwise kernels.
pub const BLOCK: u32 = 256;
const MAX_GRID: u64 = 1 << 16;

/// `struct Strided` of common.cuh: passed by value.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StridedArg {
    /// Number of dims in use.
    pub rank: u64,
    /// Element offset of the first element.
    pub offset: u64,
    /// Dims (row-major), unused ones 1.
    pub dims: [u64; MAX_DIMS],
    /// Element strides (0 for broadcast).
    pub strides: [u64; MAX_DIMS],
}

/// Merges dims that every layout (all of one shape) walks as one, drops size-1 dims, and packs
/// each as a [`StridedArg`]. Errors when more than [`MAX_DIMS`] dims remain.
pub fn strided_views(layouts: &[&Layout]) -> Result<Vec<StridedArg>> {
    let dims = layouts[0].dims();
    // Groups of (dim size, stride per layout), innermost last.
    let mut merged: Vec<(usize, Vec<usize>)> = Vec::new();
    for d in 0..dims.len() {
        if dims[d] == 1 {
            continue;
        }
        let strides: Vec<usize> = layouts.iter().map(|l| l.strides()[d]).collect();
        if let Some((n, outer)) = merged.last_mut() {
            if outer.iter().zip(&strides).all(|(&o, &s)| o == s * dims[d]) {
                *n *= dims[d];
                *outer = strides;
                continue;
            }
        }
        merged.push((dims[d], strides));
    }
    if merged.is_empty() {
        merged.push((1, vec![1; layouts.len()]));
    }
    if merged.len() > MAX_DIMS {
        return Err(Error::Cuda {
            op: "launch",
            msg: format!("a view of shape {} has more than {MAX_DIMS} non-mergeable dims", layouts[0].shape()),
        });
    }
    Ok(layouts
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let mut s = StridedArg {
                rank: merged.len() as u64,
                offset: l.offset() as u64,
                dims: [1; MAX_DIMS],
                strides: [0; MAX_DIMS],
            };
            for (d, (n, st)) in merged.iter().enumerate() {
                s.dims[d] = *n as u64;
                s.strides[d] = st[k] as u64;
            }
            s
        })
        .collect())
}

/// One view, merged.
pub fn strided(layout: &Layout) -> Result<StridedArg> {
    Ok(strided_views(&[layout])?[0])
}

/// A view's dims and strides unmerged (gather and scatter index per dim).
pub fn strided_exact(dims: &[usize], strides: &[usize], offset: usize) -> Result<StridedArg> {
    if dims.len() > MAX_DIMS {
        return Err(Error::Cuda { op: "launch", msg: format!("rank {} exceeds {MAX_DIMS}", dims.len()) });
    }
    let mut s = StridedArg {
        rank: dims.len().max(1) as u64,
        offset: offset as u64,
        dims: [1; MAX_DIMS],
        strides: [0; MAX_DIMS],
    };
    for d in 0..dims.len() {
        s.dims[d] = dims[d] as u64;
        s.strides[d] = strides[d] as u64;
    }
    Ok(s)
}

/// Kernel arguments, each stored in 8-byte-aligned memory that lives until the launch.
#[derive(Default)]
pub struct Args {
    slots: Vec<Box<[u64]>>,
}

impl Args {
    /// No arguments yet.
    pub fn new() -> Self {
        Args::default()
    }
    /// A 64-bit integer (`u64`/`i64` parameter).
    pub fn u64(mut self, v: u64) -> Self {
        self.slots.push(Box::new([v]));
        self
    }
    /// A 32-bit integer (`int`/`u32` parameter; stored little-endian in the low bytes).
    pub fn i32(self, v: i32) -> Self {
        self.u64(v as u32 as u64)
    }
    /// A `double` parameter.
    pub fn f64(self, v: f64) -> Self {
        self.u64(v.to_bits())
    }
    /// A device pointer to a buffer's elements.
    pub fn buf(self, b: &CudaBuffer) -> Self {
        self.u64(b.ptr())
    }
    /// A strided view, by value.
    pub fn view(mut self, s: &StridedArg) -> Self {
        let words: Vec<u64> = std::iter::once(s.rank)
            .chain(std::iter::once(s.offset))
            .chain(s.dims.iter().copied())
            .chain(s.strides.iter().copied())
            .collect();
        self.slots.push(words.into_boxed_slice());
        self
    }
}

/// Grid and block shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape3 {
    /// Blocks.
    pub grid: u32,
    /// Threads per block.
    pub block: u32,
}

/// A grid-stride launch over `n` elements.
pub fn elementwise(n: usize) -> Shape3 {
    Shape3 { grid: (n as u64).div_ceil(BLOCK as u64).clamp(1, MAX_GRID) as u32, block: BLOCK }
}

/// Launches `kernel` of `module` on `dev`'s stream (or runs it on the host emulator).
pub fn launch(dev: &CudaDevice, module: &KernelModule, kernel: &str, shape: Shape3, args: Args) -> Result<()> {
    let mut params: Vec<*mut c_void> = args.slots.iter().map(|s| s.as_ptr() as *mut c_void).collect();
    if let Some(emulator) = dev.emulator() {
        return emulator.launch(module, kernel, shape, &params);
    }
    let f = dev.function(module, kernel)?;
    dev.bind()?;
    // SAFETY: the function was loaded from `module`; `params` point at argument values laid out
    // as the kernel's C signature expects and alive until the call returns (the driver copies
    // them at launch).
    unsafe {
        result::launch_kernel(
            f.cu_function(),
            (shape.grid, 1, 1),
            (shape.block, 1, 1),
            0,
            dev.stream()?.cu_stream(),
            &mut params,
        )
    }
    .map_err(|e| Error::Cuda { op: "cuLaunchKernel", msg: format!("{kernel}: {e:?}") })
}

/// The kernel-name suffix of a dtype (`f32`, `bf16`, ...).
pub fn sfx(dtype: DType) -> &'static str {
    dtype.as_str()
}

/// The suffix of the same-width bit-copy kernels (`copy_u16`, `fill_u64`, ...).
pub fn width_sfx(dtype: DType) -> &'static str {
    match dtype.size_in_bytes() {
        1 => "u8",
        2 => "u16",
        4 => "u32",
        _ => "u64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::Shape;

    #[test]
    fn contiguous_views_merge_to_one_dim() {
        let l = Layout::contiguous(Shape::new(vec![2, 3, 4]));
        let s = strided(&l).unwrap();
        assert_eq!((s.rank, s.dims[0], s.strides[0]), (1, 24, 1));
    }

    #[test]
    fn transposed_and_broadcast_views_keep_their_strides() {
        let t = Layout::contiguous(Shape::new(vec![3, 4])).transpose(0, 1).unwrap();
        let s = strided(&t).unwrap();
        assert_eq!((s.rank, &s.dims[..2], &s.strides[..2]), (2, &[4u64, 3][..], &[1u64, 4][..]));
        let row = Layout::contiguous(Shape::new(vec![4])).broadcast_as(&Shape::new(vec![3, 4])).unwrap();
        let full = Layout::contiguous(Shape::new(vec![3, 4]));
        let v = strided_views(&[&full, &row]).unwrap();
        assert_eq!((v[0].rank, &v[0].strides[..2], &v[1].strides[..2]), (2, &[4u64, 1][..], &[0u64, 1][..]));
    }

    #[test]
    fn scalars_and_size_one_dims() {
        let s = strided(&Layout::contiguous(Shape::new(vec![]))).unwrap();
        assert_eq!((s.rank, s.dims[0]), (1, 1));
        let n = strided(&Layout::contiguous(Shape::new(vec![1, 5, 1]))).unwrap();
        assert_eq!((n.rank, n.dims[0], n.strides[0]), (1, 5, 1));
    }

    #[test]
    fn args_are_eight_byte_slots() {
        let s = strided(&Layout::contiguous(Shape::new(vec![7]))).unwrap();
        let a = Args::new().u64(3).f64(1.5).i32(-1).view(&s);
        assert_eq!(a.slots.len(), 4);
        assert_eq!(a.slots[1][0], 1.5f64.to_bits());
        assert_eq!(a.slots[2][0] as u32 as i32, -1);
        assert_eq!(a.slots[3].len(), 2 + 2 * MAX_DIMS);
        assert_eq!(std::mem::size_of::<StridedArg>(), 8 * (2 + 2 * MAX_DIMS));
    }
}
