//! The `no_grad` scope: a thread-local switch under which ops record nothing.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record the graph (false inside a [`no_grad`] scope).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// While alive, ops on this thread record nothing: their results do not require grad. Dropping
/// it restores the previous state, so guards nest.
///
/// ```
/// use tessera_autograd::{is_grad_enabled, NoGradGuard};
/// {
///     let _guard = NoGradGuard::new();
///     assert!(!is_grad_enabled());
/// }
/// assert!(is_grad_enabled());
/// ```
#[must_use = "the scope ends when the guard is dropped"]
pub struct NoGradGuard {
    previous: bool,
    // Thread-local state: the guard must be dropped on the thread that made it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl NoGradGuard {
    /// Disables recording on this thread until the guard is dropped.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|c| c.replace(false));
        NoGradGuard { previous, _not_send: std::marker::PhantomData }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|c| c.set(self.previous));
    }
}

/// Runs `f` with recording disabled on this thread (evaluation, optimizer updates).
///
/// ```
/// use tessera_autograd::{no_grad, Var};
/// use tessera_tensor::{Device, Tensor};
/// let w = Var::param(Tensor::from_vec(vec![1f32, 2.], [2], &Device::Cpu)?)?;
/// let y = no_grad(|| w.square())?;
/// assert!(!y.requires_grad());
/// # Ok::<(), tessera_autograd::Error>(())
/// ```
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}
