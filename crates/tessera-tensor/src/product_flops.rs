/// Floating-point operations of every matrix product CPU tensors have run in this process (a
/// multiply-add counts as two): `matmul`, convolutions, attention. Divided by a step's time it is
/// the rate the step's products reached; divided by the machine's GEMM rate, the least time they
/// can take. See [`tessera_kernels::cpu::product_flops`] for what is counted.
///
/// ```
/// use tessera_tensor::{product_flops, Device, Tensor};
/// let a = Tensor::ones([4, 3], tessera_tensor::DType::F32, &Device::Cpu)?;
/// let b = Tensor::ones([3, 5], tessera_tensor::DType::F32, &Device::Cpu)?;
/// let before = product_flops();
/// a.matmul(&b)?;
/// // Other threads may run products too, so the count grows by at least this one's.
/// assert!(product_flops() - before >= 2 * 4 * 3 * 5);
/// # Ok::<(), tessera_tensor::Error>(())
/// ```
pub fn product_flops() -> u64 {
    tessera_kernels::cpu::product_flops()
}
