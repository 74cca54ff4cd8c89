//! Every op on a CUDA device against the CPU reference (tolerance `atol + rtol * |cpu|`). Every
//! input is built once on the CPU and copied to the GPU, then the same views (transposed,
//! narrowed, expanded, permuted) are taken on both devices, so the strided kernel paths are
//! exercised; error cases must give the same error on both devices.
//!
//! One test per case, each named `cuda_*` so that a run shows what was skipped: without a GPU
//! each prints `skipped: no CUDA device: ...`, and `TESSERA_CUDA_TESTS_DRY_RUN=1` runs them with
//! the CPU standing in (to check a new case's own code). Each case says which ops it covers, and
//! `every_kernel_op_has_a_cuda_case` fails when an op of the kernel registry has no case.

#[path = "../common/mod.rs"]
mod common;
mod conv;
mod copy;
mod elementwise;
mod index;
mod nn;
mod optim;
mod pooling;
mod reduce;

use common::cuda::*;
use std::io::Write;
use tessera_kernels::cuda::CudaDevice;
use tessera_kernels::ops::registry::registry;
use tessera_tensor::{BinaryOp, CmpOp, DType, Device, ReduceOp, Result, Tensor, UnaryOp};

/// Runs a case on the GPU (or on the CPU standing in for it in a dry run); skips, saying so,
/// without a GPU.
fn run_case(name: &str, case: fn(&Device) -> Result<()>) -> Result<()> {
    match gpu(name) {
        Some((dev, _gpu)) => case(&dev),
        None => Ok(()),
    }
}

/// One `#[test]` per case, and the list of what each covers.
macro_rules! cuda_cases {
    ($($test:ident: $case:path, covers $covers:expr;)*) => {
        $(
            #[test]
            fn $test() -> Result<()> {
                run_case(stringify!($test), $case)
            }
        )*

        /// Each case's test name and the ops (kernel registry names) it compares.
        fn cases() -> Vec<(&'static str, Vec<&'static str>)> {
            vec![$((stringify!($test), $covers.to_vec())),*]
        }
    };
}

cuda_cases! {
    cuda_unary_ops_match_cpu: elementwise::unary, covers UnaryOp::NAMES;
    cuda_binary_ops_and_comparisons_match_cpu: elementwise::binary_and_compare, covers [
        BinaryOp::ALL.iter().map(|o| o.name()).collect::<Vec<_>>(),
        CmpOp::ALL.iter().map(|o| o.name()).collect(),
        vec!["where_cond"],
    ].concat();
    cuda_reductions_match_cpu: reduce::reductions, covers [
        ReduceOp::ALL.iter().map(|o| o.name()).collect::<Vec<_>>(),
        vec!["variance", "argmax", "argmin"],
    ].concat();
    cuda_sum_squares_matches_cpu: reduce::sum_squares, covers ["sum_squares"];
    cuda_softmax_matches_cpu: reduce::softmax, covers ["softmax", "log_softmax"];
    cuda_logsumexp_and_cross_entropy_backward_match_cpu: reduce::cross_entropy,
        covers ["logsumexp", "cross_entropy_backward", "cross_entropy_with_grad"];
    cuda_indexing_matches_cpu: index::indexing, covers ["index_select", "gather", "scatter_add"];
    cuda_copies_cat_and_casts_match_cpu: copy::copies_cat_and_casts, covers ["contiguous", "cat", "to_dtype"];
    cuda_creation_and_random_fills_match_cpu: copy::creation_and_random,
        covers ["full", "arange", "eye", "rand_uniform", "rand_normal", "bernoulli"];
    cuda_dropout_matches_cpu: copy::dropout, covers ["dropout"];
    cuda_lstm_cell_matches_cpu: nn::lstm_cell, covers ["lstm_cell", "lstm_cell_backward"];
    cuda_lstm_sequence_matches_cpu: nn::lstm_sequence, covers ["lstm_sequence", "lstm_sequence_backward"];
    cuda_gru_sequence_matches_cpu: nn::gru_sequence, covers ["gru_sequence", "gru_sequence_backward"];
    cuda_matmul_matches_cpu: nn::matmul, covers ["matmul", "matmul_bias"];
    cuda_attention_matches_cpu: nn::attention, covers ["attention", "attention_backward"];
    cuda_norms_and_rotary_match_cpu: nn::norms_and_rotary, covers ["layer_norm", "rms_norm", "norm_backward", "rotary"];
    cuda_optim_steps_match_cpu: optim::optim_steps, covers ["optim_step_"];
    cuda_master_optim_steps_match_cpu: optim::master_steps, covers ["optim_step_master_"];
    cuda_pooling_matches_cpu: pooling::pooling, covers [
        "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward", "adaptive_avg_pool2d",
        "adaptive_avg_pool2d_backward",
    ];
    cuda_batch_norm_matches_cpu: pooling::batch_norm, covers ["batch_norm", "batch_norm_backward"];
    cuda_conv_windows_match_cpu: conv::windows, covers ["im2col", "col2im"];
    cuda_conv2d_and_gradients_match_cpu: conv::convolutions,
        covers ["conv2d", "conv2d_input_grad", "conv2d_weight_grad"];
}

#[test]
fn every_kernel_op_has_a_cuda_case() {
    let covered: Vec<&str> = cases().into_iter().flat_map(|(_, ops)| ops).collect();
    let missing: Vec<&str> = registry().iter().map(|op| op.name).filter(|n| !covered.contains(n)).collect();
    assert!(missing.is_empty(), "ops of the kernel registry without a CUDA case in tests/cuda/: {missing:?}");
}

#[test]
fn cuda_transfers_round_trip_and_devices_do_not_mix() -> Result<()> {
    if dry_run() {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: cuda_transfers_round_trip_and_devices_do_not_mix needs a real GPU (dry run)"
        );
        return Ok(());
    }
    let Some((dev, _gpu)) = gpu("cuda_transfers_round_trip_and_devices_do_not_mix") else { return Ok(()) };
    for dtype in FLOATS.into_iter().chain(INTS) {
        let (c, g) = pair(&dev, dtype, &BASE, 60, 0.0, 100.0)?;
        assert_eq!(g.device(), &dev);
        let back = g.transpose(0, 1)?.to_device(&Device::Cpu)?;
        assert_eq!(back.to_vec_f64()?, c.transpose(0, 1)?.to_vec_f64()?, "{dtype} round trip");
        let err = c.add(&g).unwrap_err().to_string();
        assert!(err.contains("different devices"), "{err}");
    }
    let (_, g) = pair(&dev, DType::F32, &[3], 61, 0.0, 1.0)?;
    assert_eq!(g.to_vec::<f32>()?.len(), 3);
    assert!(Device::cuda(1 << 20).is_err(), "a missing ordinal is an error, not a panic");
    Ok(())
}

#[test]
fn cuda_pool_reuses_blocks_across_steps() -> Result<()> {
    if dry_run() {
        let _ = writeln!(std::io::stderr(), "skipped: cuda_pool_reuses_blocks_across_steps needs a real GPU (dry run)");
        return Ok(());
    }
    let Some((dev, _gpu)) = gpu("cuda_pool_reuses_blocks_across_steps") else { return Ok(()) };
    let cuda = CudaDevice::get(0)?;
    let (_, x) = pair(&dev, DType::F32, &[256, 256], 70, -1.0, 1.0)?;
    let step = |x: &Tensor| -> Result<f64> { x.matmul(x)?.exp()?.sum_all()?.to_scalar_f64() };
    step(&x)?;
    let before = cuda.pool_stats();
    for _ in 0..5 {
        step(&x)?;
    }
    let after = cuda.pool_stats();
    assert_eq!(after.driver_allocs, before.driver_allocs, "a repeated step allocates nothing new: {after:?}");
    assert!(after.reuses > before.reuses);
    Ok(())
}
