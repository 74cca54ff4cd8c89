//! A record of the kernels a thread dispatches: each op's registry name and its operands'
//! dtypes. Tests use it to check that every op a model runs on the CPU has a CUDA kernel for the
//! same dtypes (see `tessera_kernels::ops::registry`), without a GPU.

use std::cell::RefCell;
use std::collections::BTreeSet;
use tessera_core::DType;

/// One kind of dispatch: the op (as `tessera_kernels::ops::registry` names it) and its
/// operands' dtypes in order (for `to_dtype`: from, to).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dispatch {
    /// The op's registry name.
    pub op: &'static str,
    /// Its operands' dtypes.
    pub dtypes: Vec<DType>,
}

thread_local! {
    static LOG: RefCell<Option<BTreeSet<Dispatch>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns, beside its result, every kind of dispatch it made on this thread (each
/// once). Calls nest: an inner call's dispatches count for the outer one too.
///
/// ```
/// use tessera_tensor::{record_dispatches, DType, Device, Tensor};
/// let x = Tensor::from_vec(vec![1f32, 2.], [2], &Device::Cpu)?;
/// let (y, log) = record_dispatches(|| x.exp());
/// y?;
/// assert!(log.iter().any(|d| d.op == "exp" && d.dtypes == [DType::F32]));
/// # Ok::<(), tessera_tensor::Error>(())
/// ```
pub fn record_dispatches<T>(f: impl FnOnce() -> T) -> (T, BTreeSet<Dispatch>) {
    let outer = LOG.with(|l| l.borrow_mut().replace(BTreeSet::new()));
    let result = f();
    let inner = LOG.with(|l| l.replace(outer)).unwrap_or_default();
    LOG.with(|l| {
        if let Some(outer) = l.borrow_mut().as_mut() {
            outer.extend(inner.iter().cloned());
        }
    });
    (result, inner)
}

/// Notes a dispatch of `op` on operands of `dtypes`, when this thread records.
pub(crate) fn note(op: &'static str, dtypes: impl IntoIterator<Item = DType>) {
    LOG.with(|l| {
        if let Some(log) = l.borrow_mut().as_mut() {
            log.insert(Dispatch { op, dtypes: dtypes.into_iter().collect() });
        }
    });
}
