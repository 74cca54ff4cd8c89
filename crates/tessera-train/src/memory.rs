//! How much memory a model needs, estimated from its sizes before anything is allocated, and
//! the check against the memory this machine has available: a model that cannot fit is a clear
//! error naming its sizes, not an allocation abort minutes later.

use crate::{Error, Result};

/// Bytes per f32 value.
const F32_BYTES: f64 = 4.0;

/// A model's size in values (f32 each), as counted from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemoryEstimate {
    /// Parameters.
    pub parameters: f64,
    /// Activations kept for the backward pass of one training step (or one forward pass for
    /// inference).
    pub activations: f64,
}

impl MemoryEstimate {
    /// Bytes to train with Adam: weights, gradients and two moment estimates per parameter, and
    /// the activations.
    pub fn training_bytes(&self) -> f64 {
        F32_BYTES * (4.0 * self.parameters + self.activations)
    }

    /// Bytes to run the model forward only.
    pub fn inference_bytes(&self) -> f64 {
        F32_BYTES * (self.parameters + self.activations)
    }

    /// Checks that `bytes` (from [`MemoryEstimate::training_bytes`] or
    /// [`MemoryEstimate::inference_bytes`]) fit in the memory available now; `what` names the
    /// model and its sizes in the error. Passes when the available memory cannot be read.
    pub fn check(&self, bytes: f64, what: &str) -> Result<()> {
        match available_bytes() {
            Some(available) if bytes > available as f64 => Err(Error::OutOfMemory {
                what: what.into(),
                needed: format_bytes(bytes),
                parameters: format_count(self.parameters),
                available: format_bytes(available as f64),
            }),
            _ => Ok(()),
        }
    }
}

/// The parameters of a stack of `layers` LSTM layers (PyTorch's layout) reading `input`
/// features: per layer `4 hidden × (its input + hidden)` weights and two biases of `4 hidden`.
pub(crate) fn lstm_parameters(input: f64, hidden: f64, layers: f64) -> f64 {
    let inputs = input + (layers - 1.0).max(0.0) * hidden;
    4.0 * hidden * (inputs + layers * hidden) + 8.0 * hidden * layers
}

/// The memory this process can still use, in bytes: the system's available memory (Linux'
/// `MemAvailable`), or the control group's limit when lower; `None` where neither can be read.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let system = meminfo.as_deref().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|s| s.trim().parse::<u64>().ok());
    match (system, cgroup) {
        (Some(s), Some(c)) => Some(s.min(c)),
        (s, c) => s.or(c),
    }
}

/// `1.5 GiB`, `12.0 MiB`, `3.2e6 TiB`.
pub fn format_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 1e6 {
        format!("{value:.1e} {}", units[unit])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// `123,456` for counts that fit, `1.2e15` for the rest.
fn format_count(n: f64) -> String {
    if n < 1e12 {
        let digits = format!("{}", n.round() as u64);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{n:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_format_for_people() {
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_bytes(4e9), "3.7 GiB");
        assert_eq!(format_bytes(4e24), "3.6e12 TiB");
        assert_eq!(format_count(1234567.0), "1,234,567");
        assert_eq!(format_count(4e15), "4.00e15");
    }

    #[test]
    fn a_model_larger_than_any_machine_is_refused_with_its_sizes() {
        let huge = MemoryEstimate { parameters: 1e15, activations: 1e9 };
        if available_bytes().is_none() {
            return; // Nothing to compare with on this system.
        }
        let e = huge.check(huge.training_bytes(), "an LSTM of hidden size 1e7").unwrap_err().to_string();
        assert!(e.contains("hidden size 1e7") && e.contains("1.00e15 parameters") && e.contains("available"), "{e}");
        let small = MemoryEstimate { parameters: 1e3, activations: 1e3 };
        small.check(small.training_bytes(), "a small model").unwrap();
    }
}
