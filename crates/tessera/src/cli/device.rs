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

/// The device a process of a data-parallel run trains on: the chosen one, except that a GPU
/// is the one of the process's rank on its machine (`cuda:<local rank>`), so that N processes
/// on a machine with N GPUs take one each. One process (`local_rank` 0) is [`open`]'s choice.
pub fn open_local(choice: DeviceChoice, local_rank: usize) -> CliResult<Device> {
    Ok(match open(choice)? {
        Device::Cuda(_) if local_rank > 0 => Device::cuda(local_rank)?,
        device => device,
    })
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
