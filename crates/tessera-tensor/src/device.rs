//! Where a tensor's data lives.

use crate::Result;
use std::fmt;

/// A compute device, chosen at run time.
///
/// The enum is `non_exhaustive`: backends add variants without breaking callers. `Cuda` exists
/// in every build; without the `cuda` feature, [`Device::cuda`] says so instead of opening one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Device {
    /// The host CPU.
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal. Make one with [`Device::cuda`], which checks it exists.
    Cuda(usize),
}

/// The error of a CUDA request in a build without the `cuda` feature.
#[cfg(not(feature = "cuda"))]
pub(crate) fn no_cuda_support() -> crate::Error {
    tessera_kernels::Error::CudaUnavailable("this build has no CUDA support (the `cuda` feature is off)".into()).into()
}

impl Device {
    /// The CUDA device `ordinal`, opened now: an error (never a panic) when there is no driver,
    /// no such device, the device cannot be initialised, or the build has no CUDA support.
    ///
    /// ```
    /// use tessera_tensor::Device;
    /// match Device::cuda(0) {
    ///     Ok(d) => println!("running on {d}"),
    ///     Err(e) => println!("no GPU: {e}"),
    /// }
    /// ```
    pub fn cuda(ordinal: usize) -> Result<Device> {
        #[cfg(feature = "cuda")]
        {
            tessera_kernels::cuda::CudaDevice::get(ordinal)?;
            Ok(Device::Cuda(ordinal))
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = ordinal;
            Err(no_cuda_support())
        }
    }

    /// The best device available here, and a sentence saying which and why: CUDA device 0 when a
    /// driver, a device and NVRTC (to compile the kernels) exist, else the CPU.
    pub fn best() -> (Device, String) {
        #[cfg(feature = "cuda")]
        {
            use tessera_kernels::cuda::{self, CudaDevice};
            // The host emulator (TESSERA_CUDA_EMULATOR=1) builds its kernels without NVRTC.
            if cuda::device_count().is_ok() && !cuda::emulator::enabled() && !cuda::compile::nvrtc_available() {
                return (
                    Device::Cpu,
                    "using the CPU: a CUDA device exists but NVRTC (libnvrtc.so) cannot be loaded".into(),
                );
            }
            match CudaDevice::get(0) {
                Ok(d) => {
                    let count = cuda::device_count().unwrap_or(1);
                    let why = format!("using cuda:0 ({}, {}; {count} CUDA device(s) found)", d.name(), d.arch());
                    (Device::Cuda(0), why)
                }
                Err(e) => (Device::Cpu, format!("using the CPU: {e}")),
            }
        }
        #[cfg(not(feature = "cuda"))]
        {
            (Device::Cpu, "using the CPU: this build has no CUDA support (the `cuda` feature is off)".into())
        }
    }

    /// Whether this is the CPU.
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }

    /// Whether this is a CUDA device.
    pub fn is_cuda(&self) -> bool {
        matches!(self, Device::Cuda(_))
    }

    /// Waits for the device's queued work (a no-op on the CPU); for timing and for surfacing
    /// asynchronous kernel errors.
    pub fn synchronize(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            #[cfg(feature = "cuda")]
            Device::Cuda(o) => Ok(tessera_kernels::cuda::CudaDevice::get(*o)?.synchronize()?),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => Err(no_cuda_support()),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(o) => write!(f, "cuda:{o}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_errors_instead_of_panicking_without_a_gpu() {
        // On a machine with a GPU this opens it; without one it must be a typed error.
        match Device::cuda(0) {
            Ok(d) => assert_eq!(d, Device::Cuda(0)),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("CUDA unavailable"), "{msg}");
                eprintln!("skipped: no CUDA device: {msg}");
            }
        }
        assert!(Device::cuda(1 << 20).is_err(), "no machine has a millionth GPU");
    }

    #[test]
    fn best_says_which_and_why() {
        let (d, why) = Device::best();
        match d {
            Device::Cpu => assert!(why.starts_with("using the CPU: "), "{why}"),
            Device::Cuda(0) => assert!(why.starts_with("using cuda:0"), "{why}"),
            other => panic!("unexpected {other}"),
        }
        assert_eq!(Device::Cuda(3).to_string(), "cuda:3");
    }
}
