//! `--device cpu|cuda|auto`.

use super::CliResult;
use tessera_tensor::Device;

/// Which device to run on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// The CPU.
    #[default]
    Cpu,
    /// The first CUDA GPU (an error when there is none).
    Cuda,
    /// A GPU when one is present, else the CPU.
    Auto,
}

/// Opens the chosen device and says which one is used.
pub fn open(choice: DeviceChoice) -> CliResult<Device> {
    let device = match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Cuda => Device::cuda(0)?,
        DeviceChoice::Auto => {
            let (d, why) = Device::best();
            warn!("{why}");
            d
        }
    };
    Ok(device)
}
