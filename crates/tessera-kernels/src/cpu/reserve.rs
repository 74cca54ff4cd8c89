//! A check, before a kernel allocates an op's output, that the system will give it the memory
//! (see [`reserve_output`]).

use crate::{Error, Result};
use tessera_core::DType;

/// Outputs smaller than this are not checked: an allocation this small fails only when the
/// process is out of memory altogether, and the check would cost time on every small op.
pub const RESERVE_MIN_BYTES: usize = 64 << 20;

/// Checks that the host can allocate an output of `elements` values of `dtype` for `op`;
/// [`Error::OutOfHostMemory`] when the system refuses.
///
/// The kernels allocate their outputs as `Vec`s, and a `Vec` whose allocation fails aborts the
/// process. Most ops' outputs are no larger than their inputs, which already exist; but some are
/// sized by the caller (`full`, `random`, `eye`, `arange`), or can be far larger than what they
/// read (a broadcast `[n, 1] + [1, n]`, a matrix product of a column and a row, `contiguous` of
/// an `expand`, a gather with many indices, a convolution's padding, an adaptive pooling's output
/// size). Before those kernels run, the storage layer calls this function: it asks the
/// allocator for the output's bytes with `try_reserve_exact` and frees them again, so that a size
/// the system refuses (more than the machine's memory under Linux's default overcommit policy,
/// or past the address space) is an [`Error::OutOfHostMemory`] that names the op, instead of an
/// abort. The caching allocator keeps the freed block and hands it to the kernel's allocation
/// that follows; without it, the check costs one `mmap` and `munmap`.
///
/// What it cannot catch: memory that another thread takes between the check and the kernel's
/// allocation, and an allocation the system grants but cannot back when it is written (the
/// out-of-memory killer's case, as for any program).
///
/// ```
/// use tessera_core::DType;
/// use tessera_kernels::{cpu::reserve_output, Error};
///
/// assert!(reserve_output("full", DType::F32, 1 << 20).is_ok());
/// // 2^60 bytes: past any machine's address space.
/// let err = reserve_output("full", DType::U8, 1 << 60).unwrap_err();
/// assert!(matches!(err, Error::OutOfHostMemory { op: "full", .. }));
/// assert!(err.to_string().starts_with("full: the system refused 1.0 EiB of host memory"));
/// ```
pub fn reserve_output(op: &'static str, dtype: DType, elements: usize) -> Result<()> {
    let requested = elements.saturating_mul(dtype.size_in_bytes());
    match host_has_room(requested) {
        true => Ok(()),
        false => Err(Error::OutOfHostMemory { op, elements, dtype, requested }),
    }
}

/// Whether the system grants `bytes` of host memory now (asked for and freed again, as
/// [`reserve_output`] does); always true below [`RESERVE_MIN_BYTES`].
pub fn host_has_room(bytes: usize) -> bool {
    bytes < RESERVE_MIN_BYTES || Vec::<u8>::new().try_reserve_exact(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_grantable_outputs_pass() {
        reserve_output("t", DType::F64, 0).unwrap();
        reserve_output("t", DType::F64, 1000).unwrap();
        // 64 MiB: checked, and granted on any machine that runs the tests.
        reserve_output("t", DType::U8, RESERVE_MIN_BYTES).unwrap();
    }

    #[test]
    fn refused_outputs_name_the_op_size_and_dtype() {
        let err = reserve_output("matmul", DType::F32, 1 << 58).unwrap_err();
        assert_eq!(
            err,
            Error::OutOfHostMemory { op: "matmul", elements: 1 << 58, dtype: DType::F32, requested: 1 << 60 }
        );
        assert_eq!(
            err.to_string(),
            "matmul: the system refused 1.0 EiB of host memory for 288230376151711744 f32 elements"
        );
        // A byte count past a usize saturates and is refused like any other.
        assert!(reserve_output("t", DType::F64, usize::MAX).is_err());
    }
}
