//! The creation ops' dispatch: constants, ranges, identity matrices and random fills, each
//! checked against the host's memory first on the CPU (their size is the caller's).

use super::Storage;
use crate::dispatch_log::note;
use crate::{Device, Generator, Result};
use tessera_core::DType;
use tessera_kernels::cpu;
#[cfg(feature = "cuda")]
use tessera_kernels::cuda;
use tessera_kernels::plan::{ArangePlan, Distribution, RandomPlan};

impl Storage {
    pub(crate) fn full(device: &Device, dtype: DType, len: usize, value: f64) -> Result<Storage> {
        note("full", [dtype]);
        Ok(on_device!(device, cpu => {
            cpu::reserve_output("full", dtype, len)?;
            cpu::full(dtype, len, value)
        }, cuda(dev) => cuda::full(&dev, dtype, len, value)?))
    }

    pub(crate) fn arange(device: &Device, plan: &ArangePlan) -> Result<Storage> {
        note("arange", [plan.dtype]);
        Ok(on_device!(device, cpu => {
            cpu::reserve_output("arange", plan.dtype, plan.len)?;
            cpu::arange(plan)
        }, cuda(dev) => cuda::arange(&dev, plan)?))
    }

    pub(crate) fn eye(device: &Device, dtype: DType, rows: usize, cols: usize) -> Result<Storage> {
        note("eye", [dtype]);
        Ok(on_device!(device, cpu => {
            cpu::reserve_output("eye", dtype, rows.saturating_mul(cols))?;
            cpu::eye(dtype, rows, cols)
        }, cuda(dev) => cuda::eye(&dev, dtype, rows, cols)?))
    }

    /// A random fill drawn from `g` (which advances by the counters the fill uses).
    pub(crate) fn random(
        device: &Device,
        dist: Distribution,
        g: &mut Generator,
        dtype: DType,
        len: usize,
    ) -> Result<Storage> {
        let plan = RandomPlan::new(dist, &mut g.philox, dtype, len)?;
        note(dist.op_name(), [dtype]);
        Ok(on_device!(device, cpu => {
            cpu::reserve_output(dist.op_name(), dtype, len)?;
            cpu::random(&plan)
        }, cuda(dev) => cuda::random(&dev, &plan)?))
    }
}
