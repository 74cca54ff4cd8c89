//! Bucketed all-reduce: many small tensors (a model's gradients) flattened into buckets of
//! about a given size, one all-reduce per bucket.

use crate::communicator::{scale, Communicator, Reduce};
use crate::{Error, Result};
use std::ops::Range;
use tessera_tensor::{DType, Tensor};

/// Default bucket size: 25 MiB, as PyTorch's DistributedDataParallel.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Consecutive runs of `items` (dtype, bytes) of one dtype and at most `cap` bytes each (an
/// item larger than `cap` is a bucket alone), as index ranges in order.
pub fn plan_buckets(items: &[(DType, usize)], cap: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &(dtype, size)) in items.iter().enumerate() {
        let same = i > start && items[start].0 == dtype;
        if i > start && (!same || bytes + size > cap) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < items.len() {
        out.push(start..items.len());
    }
    out
}

fn flat<T: tessera_tensor::Element + Copy>(tensors: &[Tensor]) -> Result<Vec<T>> {
    let mut v = Vec::with_capacity(tensors.iter().map(Tensor::elem_count).sum());
    for t in tensors {
        v.extend(t.to_vec::<T>()?);
    }
    Ok(v)
}

fn unflat<T: tessera_tensor::Element + Copy>(v: &[T], like: &[Tensor], out: &mut Vec<Tensor>) -> Result<()> {
    let mut at = 0;
    for t in like {
        let n = t.elem_count();
        out.push(Tensor::from_vec(v[at..at + n].to_vec(), t.shape().clone(), t.device())?);
        at += n;
    }
    Ok(())
}

/// `tensors` reduced over the ranks (new tensors, same shapes, dtypes and devices, in order):
/// flattened into buckets of at most `bucket_bytes` of one dtype, one all-reduce per bucket.
/// Returns the tensors and the number of all-reduce calls made. f32 and f64 only.
pub fn all_reduce_bucketed(
    comm: &Communicator,
    tensors: &[Tensor],
    op: Reduce,
    bucket_bytes: usize,
) -> Result<(Vec<Tensor>, usize)> {
    let items: Vec<(DType, usize)> =
        tensors.iter().map(|t| (t.dtype(), t.elem_count() * t.dtype().size_in_bytes())).collect();
    let buckets = plan_buckets(&items, bucket_bytes);
    let mut out = Vec::with_capacity(tensors.len());
    let (before, after) = op.factors(comm.world());
    for b in &buckets {
        let group = &tensors[b.clone()];
        match group[0].dtype() {
            DType::F32 => {
                let mut v = flat::<f32>(group)?;
                scale(&mut v, before);
                comm.all_reduce_buf(crate::Buf::F32(&mut v), crate::ReduceOp::Sum)?;
                scale(&mut v, after);
                unflat(&v, group, &mut out)?;
            }
            DType::F64 => {
                let mut v = flat::<f64>(group)?;
                scale(&mut v, before);
                comm.all_reduce_buf(crate::Buf::F64(&mut v), crate::ReduceOp::Sum)?;
                scale(&mut v, after);
                unflat(&v, group, &mut out)?;
            }
            dtype => return Err(Error::DType { op: "all_reduce_bucketed", dtype }),
        }
    }
    Ok((out, buckets.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_on_size_and_dtype() {
        let f = DType::F32;
        let items = [(f, 40), (f, 40), (f, 40), (DType::F64, 8), (f, 200), (f, 4)];
        assert_eq!(plan_buckets(&items, 100), vec![0..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(plan_buckets(&items[..3], 1000), vec![0..3]);
        assert!(plan_buckets(&[], 10).is_empty());
    }
}
