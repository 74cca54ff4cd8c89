//! Where a tensor's data lives.

use std::fmt;

/// A compute device, chosen at run time.
///
/// The enum is `non_exhaustive`: backends (CUDA) add variants without breaking callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Device {
    /// The host CPU.
    #[default]
    Cpu,
}

impl Device {
    /// The best device available here, and a sentence saying which and why. Today: the CPU.
    pub fn best() -> (Device, String) {
        (Device::Cpu, "using the CPU (this build has no GPU backend)".to_string())
    }

    /// Whether this is the CPU.
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
        }
    }
}
