//! Shaping: views that share storage, and the copies (contiguous, cat, stack, casts).

use super::Tensor;
use crate::{Result, Storage};
use tessera_core::{DType, Error, Shape};
use tessera_kernels::plan::CatPlan;

impl Tensor {
    /// Swaps two dims (negative dims count from the end). A view.
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let (a, b) = (self.shape().dim(d0, "transpose")?, self.shape().dim(d1, "transpose")?);
        Ok(self.with_layout(self.layout().transpose(a, b)?))
    }

    /// Swaps the last two dims (the matrix transpose). A view; needs rank >= 2.
    pub fn t(&self) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(Error::InvalidArgument {
                op: "t",
                msg: format!("needs at least 2 dims, got shape {}", self.shape()),
            }
            .into());
        }
        self.transpose(-2, -1)
    }

    /// Reorders dims: dim `i` of the result is dim `perm[i]` of `self`. A view.
    pub fn permute(&self, perm: &[isize]) -> Result<Tensor> {
        let perm = perm.iter().map(|&d| self.shape().dim(d, "permute")).collect::<tessera_core::Result<Vec<_>>>()?;
        Ok(self.with_layout(self.layout().permute(&perm)?))
    }

    /// Keeps `len` entries of `dim` from `start`. A view.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let d = self.shape().dim(dim, "narrow")?;
        Ok(self.with_layout(self.layout().narrow(d, start, len)?))
    }

    /// The same elements with another shape; one dim may be given as `usize::MAX` to be inferred.
    /// A view when the strides allow it, otherwise a copy (as PyTorch's `reshape`).
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = self.infer_dim(shape.into())?;
        match self.layout().reshape(&shape)? {
            Some(layout) => Ok(self.with_layout(layout)),
            None => self.contiguous()?.reshape(shape),
        }
    }

    fn infer_dim(&self, shape: Shape) -> Result<Shape> {
        let holes = shape.dims().iter().filter(|&&d| d == usize::MAX).count();
        if holes == 0 {
            return Ok(shape);
        }
        // Saturating: a product past a usize divides no element count, as the check below finds.
        let known = tessera_core::saturating_product(shape.dims().iter().copied().filter(|&d| d != usize::MAX));
        if holes > 1 || known == 0 || !self.elem_count().is_multiple_of(known) {
            return Err(Error::InvalidArgument {
                op: "reshape",
                msg: format!("cannot infer a dim of {:?} for {} elements", shape.dims(), self.elem_count()),
            }
            .into());
        }
        let fill = self.elem_count() / known;
        Ok(Shape::new(shape.dims().iter().map(|&d| if d == usize::MAX { fill } else { d }).collect()))
    }

    /// All dims merged into one. A view when contiguous.
    pub fn flatten_all(&self) -> Result<Tensor> {
        self.reshape([self.elem_count()])
    }

    /// Merges dims `start_dim..=end_dim` into one (negative dims count from the end), as
    /// `torch.flatten`; a 0-dim tensor becomes `[1]`. A view when the strides allow it.
    pub fn flatten(&self, start_dim: isize, end_dim: isize) -> Result<Tensor> {
        const OP: &str = "flatten";
        if self.rank() == 0 {
            for d in [start_dim, end_dim] {
                if !(-1..=0).contains(&d) {
                    return Err(Error::DimOutOfRange { op: OP, dim: d, shape: self.shape().clone() }.into());
                }
            }
            return self.reshape([1]);
        }
        let (s, e) = (self.shape().dim(start_dim, OP)?, self.shape().dim(end_dim, OP)?);
        if s > e {
            let msg = format!(
                "start_dim {start_dim} (dim {s}) comes after end_dim {end_dim} (dim {e}) for shape {}",
                self.shape()
            );
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        let dims = self.dims();
        let mut shape = dims[..s].to_vec();
        // An empty tensor's other dims may multiply past a usize.
        let Some(merged) = dims[s..=e].iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
            let msg = format!("dims {s} to {e} of shape {} hold more elements than a usize counts", self.shape());
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        };
        shape.push(merged);
        shape.extend_from_slice(&dims[e + 1..]);
        self.reshape(shape)
    }

    /// Splits `dim` into dims of `sizes` (one may be `usize::MAX`, inferred), as
    /// `torch.unflatten`. A view when the strides allow it.
    pub fn unflatten(&self, dim: isize, sizes: &[usize]) -> Result<Tensor> {
        const OP: &str = "unflatten";
        let d = self.shape().dim(dim, OP)?;
        let n = self.dims()[d];
        let holes = sizes.iter().filter(|&&s| s == usize::MAX).count();
        // The given sizes' product; one that overflows cannot split `n` either.
        let known = Shape::from(sizes.iter().copied().filter(|&s| s != usize::MAX).collect::<Vec<_>>())
            .checked_elem_count()
            .unwrap_or(usize::MAX);
        let fits = match holes {
            0 => known == n,
            1 => known > 0 && n.is_multiple_of(known),
            _ => false,
        };
        if sizes.is_empty() || !fits || known == usize::MAX {
            let sizes: Vec<String> =
                sizes.iter().map(|&s| if s == usize::MAX { "-1".into() } else { s.to_string() }).collect();
            let msg = format!(
                "sizes [{}] do not split dim {dim} (size {n}) of shape {} (their product must be {n}, at most one \
                 inferred)",
                sizes.join(", "),
                self.shape()
            );
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        let dims = self.dims();
        let mut shape = dims[..d].to_vec();
        shape.extend(sizes.iter().map(|&s| if s == usize::MAX { n / known } else { s }));
        shape.extend_from_slice(&dims[d + 1..]);
        self.reshape(shape)
    }

    /// Removes `dim` if its size is 1 (otherwise unchanged, as PyTorch). A view.
    pub fn squeeze(&self, dim: isize) -> Result<Tensor> {
        let d = self.shape().dim(dim, "squeeze")?;
        Ok(self.with_layout(self.layout().squeeze(d)?))
    }

    /// Inserts a dim of size 1 at `dim` (`-1` appends). A view.
    pub fn unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let d = self.shape().dim_for_insert(dim, "unsqueeze")?;
        Ok(self.with_layout(self.layout().unsqueeze(d)?))
    }

    /// Broadcasts to `shape` (size-1 dims repeat, leading dims are added): PyTorch's `expand`.
    /// A view with zero strides, no copy.
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        Ok(self.with_layout(self.layout().broadcast_as(&shape.into())?))
    }

    /// A contiguous tensor with the same values: `self` when already contiguous from offset 0.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() && self.layout().offset() == 0 {
            return Ok(self.clone());
        }
        Ok(Tensor::from_storage(self.storage().copy_strided(self.layout())?, self.shape().clone()))
    }

    /// A fresh contiguous copy, never sharing storage with `self`.
    pub fn copy(&self) -> Result<Tensor> {
        Ok(Tensor::from_storage(self.storage().copy_strided(self.layout())?, self.shape().clone()))
    }

    /// The values converted to `dtype` (a cheap clone when it already is).
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        Ok(Tensor::from_storage(self.storage().cast(self.layout(), dtype)?, self.shape().clone()))
    }

    /// Pieces of `size` entries along `dim` (the last may be shorter). Views.
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Tensor>> {
        let d = self.shape().dim(dim, "split")?;
        if size == 0 {
            return Err(Error::InvalidArgument { op: "split", msg: "split size must be positive".into() }.into());
        }
        let (n, rank) = (self.dims()[d], self.rank());
        let pieces = n.div_ceil(size);
        // Each piece is a view with its own layout: so many that memory cannot hold them (a dim of
        // 2^40 in an empty tensor, split by 1) is an error, not an abort.
        let view_bytes = std::mem::size_of::<Tensor>() + 128 + 16 * rank;
        if !tessera_kernels::cpu::host_has_room(pieces.saturating_mul(view_bytes)) {
            let msg = format!("{pieces} pieces of dim {d} (size {n}) are more views than host memory can hold");
            return Err(Error::InvalidArgument { op: "split", msg }.into());
        }
        (0..pieces).map(|i| self.narrow(d as isize, i * size, size.min(n - i * size))).collect()
    }

    /// `chunks` nearly equal pieces along `dim` (as `torch.chunk`: size `ceil(n / chunks)`).
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Tensor>> {
        let d = self.shape().dim(dim, "chunk")?;
        if chunks == 0 {
            return Err(Error::InvalidArgument { op: "chunk", msg: "number of chunks must be positive".into() }.into());
        }
        let n = self.dims()[d];
        self.split(n.div_ceil(chunks).max(1), dim)
    }

    /// Joins tensors along an existing dim.
    pub fn cat(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        let plan = CatPlan::new(&tensors.iter().map(|t| t.arg()).collect::<Vec<_>>(), dim)?;
        let guards: Vec<_> = tensors.iter().map(|t| t.storage()).collect();
        let parts: Vec<&Storage> = guards.iter().map(|g| &**g).collect();
        let storage = Storage::cat(&plan, &parts)?;
        Ok(Tensor::from_storage(storage, plan.out_shape))
    }

    /// Joins tensors of one shape along a new dim.
    pub fn stack(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        let Some(first) = tensors.first() else {
            return Err(Error::InvalidArgument { op: "stack", msg: "no tensors given".into() }.into());
        };
        for t in tensors {
            if t.shape() != first.shape() {
                return Err(
                    Error::ShapeMismatch { op: "stack", lhs: first.shape().clone(), rhs: t.shape().clone() }.into()
                );
            }
        }
        let d = first.shape().dim_for_insert(dim, "stack")? as isize;
        let parts = tensors.iter().map(|t| t.unsqueeze(d)).collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, d)
    }
}
