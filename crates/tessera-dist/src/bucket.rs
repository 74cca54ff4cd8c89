//! Bucketed all-reduce: many small tensors (a model's gradients) flattened into buckets of
//! about a given size, one all-reduce per bucket.

use crate::backend::{Buf, ReduceOp};
use crate::communicator::{Communicator, FromF64, Reduce};
use crate::{Error, Result};
use std::ops::Range;
use tessera_tensor::{DType, Element, Tensor};

/// Default bucket size: 25 MiB, as PyTorch's DistributedDataParallel.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Consecutive runs of `items` (dtype, bytes) of one dtype, the first of at most `first_cap`
/// bytes and the others of at most `cap` (an item larger than its cap is a bucket alone), as
/// index ranges in order. A small first bucket lets data-parallel training send the last
/// layers' gradients while backward is still busy with the others, as DDP's 1 MiB first bucket.
pub fn plan_buckets(items: &[(DType, usize)], first_cap: usize, cap: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &(dtype, size)) in items.iter().enumerate() {
        let limit = if out.is_empty() { first_cap } else { cap };
        if i > start && (items[start].0 != dtype || bytes + size > limit) {
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

/// The element type tensors of `dtype` travel as in a [`FlatBucket`]: f64 as f64; f32, f16 and
/// bf16 as f32 (the half types are summed in f32, as their optimizer state is).
pub fn wire_dtype(dtype: DType) -> Result<DType> {
    match dtype {
        DType::F64 => Ok(DType::F64),
        DType::F32 | DType::F16 | DType::BF16 => Ok(DType::F32),
        dtype => Err(Error::DType { op: "bucketed all-reduce", dtype }),
    }
}

/// Tensors of one [`wire_dtype`] flattened, in order, into one buffer for one collective: a
/// host buffer for CPU tensors, a tensor on their device for tensors that share one GPU (one
/// NCCL call where the communicator has joined NCCL on it, else one staged copy).
#[derive(Debug)]
pub struct FlatBucket(Flat);

#[derive(Debug)]
enum Flat {
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// A 1-D tensor of the wire dtype on the tensors' device.
    Device(Tensor),
}

impl FlatBucket {
    /// `tensors` (of any devices) times `factor`, one after the other. They must share a wire
    /// dtype; none is an error.
    pub fn pack(tensors: &[Tensor], factor: f64) -> Result<FlatBucket> {
        let Some(first) = tensors.first() else {
            return Err(Error::Length { op: "FlatBucket::pack", expected: 1, actual: 0 });
        };
        let wire = wire_dtype(first.dtype())?;
        if tensors.iter().any(|t| wire_dtype(t.dtype()).ok() != Some(wire)) {
            return Err(Error::Types { op: "FlatBucket::pack" });
        }
        if !first.device().is_cpu() && tensors.iter().all(|t| t.device() == first.device()) {
            let flat = |t: &Tensor| -> Result<Tensor> {
                let t = t.reshape([t.elem_count()])?.to_dtype(wire)?;
                Ok(if factor != 1.0 { t.scale(factor)? } else { t })
            };
            let parts = tensors.iter().map(flat).collect::<Result<Vec<_>>>()?;
            // `cat` copies: the bucket never shares memory with the tensors it was packed from.
            return Ok(FlatBucket(Flat::Device(Tensor::cat(&parts, 0)?)));
        }
        Ok(FlatBucket(match wire {
            DType::F64 => Flat::F64(host_flat(tensors, factor)?),
            _ => Flat::F32(host_flat(tensors, factor)?),
        }))
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.0 {
            Flat::F32(v) => v.len(),
            Flat::F64(v) => v.len(),
            Flat::Device(t) => t.elem_count(),
        }
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sums the bucket element-wise over the ranks of `comm`, in place.
    pub fn all_reduce(&mut self, comm: &Communicator) -> Result<()> {
        let buf = match &mut self.0 {
            Flat::F32(v) => Buf::F32(v),
            Flat::F64(v) => Buf::F64(v),
            Flat::Device(t) => return comm.all_reduce_(t, Reduce::Sum),
        };
        comm.all_reduce_buf(buf, ReduceOp::Sum)
    }

    /// The tensors back, times `factor`: one per `like` (in the order they were packed), each
    /// with its shape, dtype and device. Only the positions `wanted` says are made (`None` for
    /// the others).
    pub fn unpack(&self, like: &[Tensor], factor: f64, wanted: impl Fn(usize) -> bool) -> Result<Vec<Option<Tensor>>> {
        let total: usize = like.iter().map(Tensor::elem_count).sum();
        if total != self.len() {
            return Err(Error::Length { op: "FlatBucket::unpack", expected: self.len(), actual: total });
        }
        let mut out = Vec::with_capacity(like.len());
        let mut at = 0;
        for (i, t) in like.iter().enumerate() {
            let n = t.elem_count();
            let part = at..at + n;
            at += n;
            if !wanted(i) {
                out.push(None);
                continue;
            }
            let made = match &self.0 {
                Flat::F32(v) => Tensor::from_vec(scaled(&v[part], factor), t.shape().clone(), t.device())?,
                Flat::F64(v) => Tensor::from_vec(scaled(&v[part], factor), t.shape().clone(), t.device())?,
                Flat::Device(flat) => {
                    let piece = flat.narrow(0, part.start, n)?.reshape(t.shape().clone())?;
                    if factor != 1.0 {
                        piece.scale(factor)?
                    } else {
                        piece.copy()?
                    }
                }
            };
            out.push(Some(if made.dtype() == t.dtype() { made } else { made.to_dtype(t.dtype())? }));
        }
        Ok(out)
    }
}

/// `tensors`' values times `factor`, one after the other, as `T`.
fn host_flat<T: Element + Copy + std::ops::Mul<Output = T> + FromF64>(
    tensors: &[Tensor],
    factor: f64,
) -> Result<Vec<T>> {
    let mut v = Vec::with_capacity(tensors.iter().map(Tensor::elem_count).sum());
    for t in tensors {
        extend_scaled(&mut v, t, factor)?;
    }
    Ok(v)
}

/// Appends `t`'s values times `factor` to `v` (as `v`'s element type): in one pass, straight
/// from the storage of a dense CPU tensor of that type.
fn extend_scaled<T: Element + Copy + std::ops::Mul<Output = T> + FromF64>(
    v: &mut Vec<T>,
    t: &Tensor,
    factor: f64,
) -> Result<()> {
    let k = <T as FromF64>::from_f64(factor);
    if t.dtype() == T::DTYPE && t.device().is_cpu() && t.owns_storage_densely() {
        t.with_host(|s: &[T]| v.extend(s.iter().map(|&x| x * k)))?;
    } else {
        let t = if t.dtype() == T::DTYPE { t.clone() } else { t.to_dtype(T::DTYPE)? };
        v.extend(t.to_vec::<T>()?.into_iter().map(|x| x * k));
    }
    Ok(())
}

/// `values` times `factor`, in a new vector.
fn scaled<T: Copy + std::ops::Mul<Output = T> + FromF64>(values: &[T], factor: f64) -> Vec<T> {
    let k = T::from_f64(factor);
    values.iter().map(|&x| x * k).collect()
}

/// `tensors` reduced over the ranks (new tensors, same shapes, dtypes and devices, in order):
/// flattened into buckets of at most `bucket_bytes` of one [`wire_dtype`], one all-reduce per
/// bucket. Returns the tensors and the number of all-reduce calls made. Float dtypes only.
pub fn all_reduce_bucketed(
    comm: &Communicator,
    tensors: &[Tensor],
    op: Reduce,
    bucket_bytes: usize,
) -> Result<(Vec<Tensor>, usize)> {
    let mut items = Vec::with_capacity(tensors.len());
    for t in tensors {
        let wire = wire_dtype(t.dtype())?;
        items.push((wire, t.elem_count() * wire.size_in_bytes()));
    }
    let buckets = plan_buckets(&items, bucket_bytes, bucket_bytes);
    let mut out = Vec::with_capacity(tensors.len());
    let (before, after) = op.factors(comm.world());
    for b in &buckets {
        let group = &tensors[b.clone()];
        let mut flat = FlatBucket::pack(group, before)?;
        flat.all_reduce(comm)?;
        out.extend(flat.unpack(group, after, |_| true)?.into_iter().flatten());
    }
    Ok((out, buckets.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    #[test]
    fn buckets_split_on_size_and_dtype() {
        let f = DType::F32;
        let items = [(f, 40), (f, 40), (f, 40), (DType::F64, 8), (f, 200), (f, 4)];
        assert_eq!(plan_buckets(&items, 100, 100), vec![0..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(plan_buckets(&items[..3], 1000, 1000), vec![0..3]);
        assert_eq!(plan_buckets(&items[..3], 40, 1000), vec![0..1, 1..3], "a small first bucket");
        assert!(plan_buckets(&[], 10, 10).is_empty());
    }

    #[test]
    fn half_tensors_travel_as_f32_and_come_back_in_their_dtype() -> Result<()> {
        let dev = Device::Cpu;
        let h = Tensor::from_vec(vec![1.5f32, -2.0], [2], &dev)?.to_dtype(DType::BF16)?;
        let f = Tensor::from_vec(vec![3.0f32], [1, 1], &dev)?;
        let flat = FlatBucket::pack(&[h.clone(), f.clone()], 2.0)?;
        assert_eq!(flat.len(), 3);
        let back = flat.unpack(&[h, f], 0.25, |i| i == 0)?;
        assert_eq!(back[0].as_ref().unwrap().dtype(), DType::BF16);
        assert_eq!(back[0].as_ref().unwrap().to_vec_f64()?, vec![0.75, -1.0]);
        assert!(back[1].is_none());
        let wide = Tensor::from_vec(vec![1.0f64], [1], &dev)?;
        assert!(FlatBucket::pack(&[Tensor::zeros([1], DType::F32, &dev)?, wide], 1.0).is_err());
        Ok(())
    }
}
