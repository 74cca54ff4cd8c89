//! Slicing and joining: narrow, split, chunk, cat, stack.

use crate::slice_grad::Slice;
use crate::{Result, Var};
use tessera_tensor::Tensor;

impl Var {
    /// Keeps `len` entries of `dim` from `start` (a view); the gradient is zero-padded back
    /// (or, for a slice of an op's output, kept as a piece of that output's gradient and joined
    /// with the other slices' in one pass).
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Var> {
        let y = self.tensor().narrow(dim, start, len)?;
        let slice = Slice { dim: self.shape().dim(dim, "narrow").map_err(tessera_tensor::Error::from)?, start };
        Ok(Var::record_slice("narrow", y, self, slice))
    }

    /// Pieces of `size` entries along `dim` (the last may be shorter), each a differentiable view.
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Var>> {
        let pieces = self.tensor().split(size, dim)?;
        let mut start = 0;
        let mut out = Vec::with_capacity(pieces.len());
        for p in &pieces {
            let len = p.dims()[self.shape().dim(dim, "split").map_err(tessera_tensor::Error::from)?];
            out.push(self.narrow(dim, start, len)?);
            start += len;
        }
        Ok(out)
    }

    /// `chunks` nearly equal pieces along `dim` (as `Tensor::chunk`), each differentiable.
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Var>> {
        let pieces = self.tensor().chunk(chunks, dim)?;
        let d = self.shape().dim(dim, "chunk").map_err(tessera_tensor::Error::from)?;
        let size = pieces.first().map_or(1, |p| p.dims()[d]);
        self.split(size, dim)
    }

    /// Joins Vars along an existing dim; each gets its slice of the gradient.
    pub fn cat(vars: &[Var], dim: isize) -> Result<Var> {
        Var::non_empty(vars, "cat")?;
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.tensor().clone()).collect();
        let y = Tensor::cat(&tensors, dim)?;
        let inputs: Vec<&Var> = vars.iter().collect();
        Ok(Var::record("cat", y, &inputs, move |c| {
            let mut start = 0;
            let mut grads = Vec::with_capacity(c.num_inputs());
            for i in 0..c.num_inputs() {
                let shape = c.input_shape(i);
                let len = shape.dims()[shape.dim(dim, "cat").map_err(tessera_tensor::Error::from)?];
                grads.push(if c.needs(i) { Some(c.grad.narrow(dim, start, len)?) } else { None });
                start += len;
            }
            Ok(grads)
        }))
    }

    /// Joins Vars of one shape along a new dim.
    pub fn stack(vars: &[Var], dim: isize) -> Result<Var> {
        Var::non_empty(vars, "stack")?;
        let tensors: Vec<Tensor> = vars.iter().map(|v| v.tensor().clone()).collect();
        let y = Tensor::stack(&tensors, dim)?;
        let d = y.shape().dim(dim, "stack").map_err(tessera_tensor::Error::from)? as isize;
        let inputs: Vec<&Var> = vars.iter().collect();
        Ok(Var::record("stack", y, &inputs, move |c| {
            (0..c.num_inputs())
                .map(|i| if c.needs(i) { Ok(Some(c.grad.narrow(d, i, 1)?.squeeze(d)?)) } else { Ok(None) })
                .collect()
        }))
    }
}
