//! What a transport provides: collectives on typed host buffers.

use crate::{Error, Result};

/// A host buffer of one of the element types the collectives move.
#[derive(Debug)]
pub enum Buf<'a> {
    /// 32-bit floats (gradients, parameters).
    F32(&'a mut [f32]),
    /// 64-bit floats (parameters, metrics).
    F64(&'a mut [f64]),
    /// Unsigned integers (counts, fingerprints).
    U64(&'a mut [u64]),
    /// Bytes (descriptions).
    U8(&'a mut [u8]),
}

impl Buf<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buf::F32(b) => b.len(),
            Buf::F64(b) => b.len(),
            Buf::U64(b) => b.len(),
            Buf::U8(b) => b.len(),
        }
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// Element-wise sum.
    Sum,
    /// Element-wise maximum.
    Max,
}

/// The collectives one transport runs, on host buffers. Every process of the world must call
/// the same collectives in the same order with buffers of the same lengths and types.
pub trait Transport: Send + Sync {
    /// This process's rank.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn world(&self) -> usize;
    /// Reduces `buf` element-wise over all ranks with `op`; every rank ends with the result.
    fn all_reduce(&self, buf: Buf<'_>, op: ReduceOp) -> Result<()>;
    /// Overwrites `buf` on every rank with `root`'s.
    fn broadcast(&self, buf: Buf<'_>, root: usize) -> Result<()>;
    /// Gathers every rank's `local` (the same length everywhere) into `recv` (world times that
    /// length, of the same type), in rank order.
    fn all_gather(&self, local: Buf<'_>, recv: Buf<'_>) -> Result<()>;
    /// Waits until every rank has called it.
    fn barrier(&self) -> Result<()>;
    /// Ends every process of the job with `code`.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// The one process of a world of 1: every collective leaves its buffers as a sum, maximum or
/// broadcast over one rank leaves them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Single;

impl Transport for Single {
    fn rank(&self) -> usize {
        0
    }

    fn world(&self) -> usize {
        1
    }

    fn all_reduce(&self, _buf: Buf<'_>, _op: ReduceOp) -> Result<()> {
        Ok(())
    }

    fn broadcast(&self, _buf: Buf<'_>, root: usize) -> Result<()> {
        check_root(root, 1)
    }

    fn all_gather(&self, local: Buf<'_>, recv: Buf<'_>) -> Result<()> {
        check_gather(&local, &recv, 1)?;
        match (local, recv) {
            (Buf::F32(s), Buf::F32(r)) => r.copy_from_slice(s),
            (Buf::F64(s), Buf::F64(r)) => r.copy_from_slice(s),
            (Buf::U64(s), Buf::U64(r)) => r.copy_from_slice(s),
            (Buf::U8(s), Buf::U8(r)) => r.copy_from_slice(s),
            _ => return Err(Error::Types { op: "all_gather" }),
        }
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}

/// A root outside the world is an error.
pub(crate) fn check_root(root: usize, world: usize) -> Result<()> {
    if root >= world {
        return Err(Error::RankOutOfRange { rank: root, world });
    }
    Ok(())
}

/// An all-gather's receive buffer holds `world` times the send buffer.
pub(crate) fn check_gather(local: &Buf<'_>, recv: &Buf<'_>, world: usize) -> Result<()> {
    if local.len() * world != recv.len() {
        return Err(Error::Length { op: "all_gather", expected: local.len() * world, actual: recv.len() });
    }
    Ok(())
}
