//! Every op that has kernels, with its family and the CUDA kernels it launches.
//!
//! An op family `X` has its CPU half in `cpu/X.rs`, its CUDA half in `cuda/X.rs` (none where
//! CUDA runs all of its ops composed) and, when it has kernels of its own, their source in
//! `kernels/X.cu`. Tests walk this list: each family's
//! files exist, each declared kernel symbol is in its `.cu` file for every dtype listed, each op
//! has a gradient check (or a reason not to) and a CUDA test.

use super::{BinaryOp, CmpOp, ReduceOp, UnaryOp};
use tessera_core::DType;

const FLOATS: &[DType] = &[DType::F32, DType::F64, DType::F16, DType::BF16];
const ALL: &[DType] = &DType::ALL;
/// The bit widths that copies, concatenation and fills move (`copy_u16` serves f16 and bf16).
const WIDTHS: &[&str] = &["u8", "u16", "u32", "u64"];

/// How the CUDA half of an op computes.
#[derive(Debug, Clone, PartialEq)]
pub enum CudaImpl {
    /// With these kernels of `kernels/<family>.cu` (full symbol names, dtype suffix included).
    Kernels(Vec<String>),
    /// Through cuBLAS.
    Cublas,
    /// On the host, uploading the result (a handful of values: `arange`, `eye`).
    Host,
    /// Composed by the tensor layer of these ops of the registry (the CPU has a fused kernel of
    /// its own): the op runs on CUDA wherever they all do.
    Composed(Vec<&'static str>),
}

/// One op with kernels.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelOp {
    /// The op's name, as its `Tensor` method is called.
    pub name: &'static str,
    /// The family: `cpu/<family>.rs`, `cuda/<family>.rs`, `kernels/<family>.cu`.
    pub family: &'static str,
    /// What its CUDA half runs.
    pub cuda: CudaImpl,
}

fn kernels(name: &'static str, family: &'static str, symbols: impl IntoIterator<Item = String>) -> KernelOp {
    KernelOp { name, family, cuda: CudaImpl::Kernels(symbols.into_iter().collect()) }
}

/// An op that CUDA runs as other registered ops (`parts`), composed in the tensor layer.
fn composed(name: &'static str, family: &'static str, parts: &[&'static str]) -> KernelOp {
    KernelOp { name, family, cuda: CudaImpl::Composed(parts.to_vec()) }
}

fn per_dtype<'a>(prefix: &'a str, dtypes: &'a [DType]) -> impl Iterator<Item = String> + 'a {
    dtypes.iter().map(move |d| format!("{prefix}_{}", d.as_str()))
}

fn per_width(prefix: &str) -> impl Iterator<Item = String> + '_ {
    WIDTHS.iter().map(move |w| format!("{prefix}_{w}"))
}

/// Every op with kernels: the table families' ops, then the others, by family.
pub fn registry() -> Vec<KernelOp> {
    let mut ops = Vec::new();
    for name in UnaryOp::NAMES {
        let op = UnaryOp::EXAMPLES.iter().find(|op| op.name() == *name).expect("an example of every op");
        let dtypes = ALL.iter().filter(|&&d| op.supports(d));
        ops.push(kernels(name, "unary", dtypes.map(|&d| op.kernel(d))));
    }
    for op in BinaryOp::ALL {
        ops.push(kernels(op.name(), "binary", ALL.iter().filter(|&&d| op.supports(d)).map(|&d| op.kernel(d))));
    }
    for op in CmpOp::ALL {
        ops.push(kernels(op.name(), "compare", ALL.iter().map(|&d| op.kernel(d))));
    }
    ops.push(kernels("where_cond", "compare", per_dtype("where", ALL)));
    for op in ReduceOp::ALL {
        // A mean is a sum scaled in the kernel.
        let prefix = if *op == ReduceOp::Mean { "reduce_sum".to_string() } else { format!("reduce_{}", op.name()) };
        let dtypes: Vec<DType> = ALL.iter().copied().filter(|&d| op.out_dtype(d).is_some()).collect();
        ops.push(kernels(op.name(), "reduce", per_dtype(&prefix, &dtypes).collect::<Vec<_>>()));
    }
    ops.push(kernels("variance", "reduce", per_dtype("reduce_var", FLOATS)));
    ops.push(composed("sum_squares", "reduce", &["to_dtype", "square", "sum"]));
    ops.push(kernels("argmax", "reduce", per_dtype("reduce_argmax", ALL)));
    ops.push(kernels("argmin", "reduce", per_dtype("reduce_argmin", ALL)));
    ops.push(kernels("softmax", "softmax", per_dtype("softmax", FLOATS)));
    ops.push(kernels("log_softmax", "softmax", per_dtype("log_softmax", FLOATS)));
    ops.push(kernels("logsumexp", "cross_entropy", per_dtype("logsumexp", FLOATS)));
    ops.push(kernels("cross_entropy_backward", "cross_entropy", per_dtype("cross_entropy_backward", FLOATS)));
    ops.push(composed("cross_entropy_with_grad", "cross_entropy", &["logsumexp", "cross_entropy_backward"]));
    ops.push(kernels("lstm_cell", "lstm", per_dtype("lstm_cell", FLOATS)));
    ops.push(kernels("lstm_cell_backward", "lstm", per_dtype("lstm_cell_backward", FLOATS)));
    ops.push(composed("lstm_sequence", "lstm", &["to_dtype", "matmul", "lstm_cell", "contiguous", "cat"]));
    let lstm_backward = ["to_dtype", "lstm_cell_backward", "add", "matmul", "contiguous", "cat"];
    ops.push(composed("lstm_sequence_backward", "lstm", &lstm_backward));
    let gru = ["to_dtype", "matmul_bias", "add", "sub", "mul", "sigmoid", "tanh", "contiguous", "cat"];
    ops.push(composed("gru_sequence", "gru_sequence", &gru));
    let gru_backward = ["to_dtype", "add", "sub", "mul", "square", "affine", "matmul", "sum", "contiguous", "cat"];
    ops.push(composed("gru_sequence_backward", "gru_sequence", &gru_backward));
    ops.push(kernels("attention", "attention", per_dtype("attention", FLOATS)));
    let backward = ["attention_delta", "attention_dkdv", "attention_dq"];
    ops.push(kernels(
        "attention_backward",
        "attention",
        backward.iter().flat_map(|k| per_dtype(k, FLOATS).collect::<Vec<_>>()),
    ));
    ops.push(kernels("layer_norm", "norm", per_dtype("norm", FLOATS)));
    ops.push(kernels("rms_norm", "norm", per_dtype("norm", FLOATS)));
    let norm_backward = ["norm_backward", "norm_param_grads"];
    ops.push(kernels(
        "norm_backward",
        "norm",
        norm_backward.iter().flat_map(|k| per_dtype(k, FLOATS).collect::<Vec<_>>()),
    ));
    ops.push(kernels("rotary", "rotary", per_dtype("rotary", FLOATS)));
    ops.push(kernels("max_pool2d", "pooling", per_dtype("max_pool2d", FLOATS)));
    ops.push(kernels("max_pool2d_backward", "pooling", per_dtype("max_pool2d_backward", FLOATS)));
    ops.push(kernels("avg_pool2d", "pooling", per_dtype("avg_pool2d", FLOATS)));
    ops.push(kernels("avg_pool2d_backward", "pooling", per_dtype("avg_pool2d_backward", FLOATS)));
    ops.push(kernels("adaptive_avg_pool2d", "pooling", per_dtype("avg_pool2d", FLOATS)));
    ops.push(kernels("adaptive_avg_pool2d_backward", "pooling", per_dtype("avg_pool2d_backward", FLOATS)));
    ops.push(kernels("batch_norm", "batch_norm", per_dtype("batch_norm", FLOATS)));
    ops.push(kernels("batch_norm_backward", "batch_norm", per_dtype("batch_norm_backward", FLOATS)));
    ops.push(kernels("im2col", "conv", per_dtype("im2col", FLOATS)));
    ops.push(kernels("col2im", "conv", per_dtype("col2im", FLOATS)));
    let conv = |names: &[&str]| names.iter().flat_map(|k| per_dtype(k, FLOATS).collect::<Vec<_>>()).collect::<Vec<_>>();
    ops.push(kernels("conv2d", "conv", conv(&["im2col", "conv_bias"])));
    ops.push(kernels("conv2d_input_grad", "conv", conv(&["col2im"])));
    ops.push(kernels("conv2d_weight_grad", "conv", conv(&["im2col"])));
    ops.push(KernelOp { name: "matmul", family: "matmul", cuda: CudaImpl::Cublas });
    ops.push(KernelOp { name: "matmul_bias", family: "matmul", cuda: CudaImpl::Cublas });
    for name in ["index_select", "gather", "scatter_add"] {
        ops.push(kernels(name, "index", per_dtype(name, ALL).chain(["check_indices".to_string()])));
    }
    ops.push(kernels("contiguous", "copy", per_width("copy")));
    ops.push(kernels("cat", "copy", per_width("cat")));
    let casts = ALL.iter().flat_map(|&from| {
        ALL.iter().filter(move |&&to| to != from).map(move |to| format!("cast_{}_{}", from.as_str(), to.as_str()))
    });
    ops.push(kernels("to_dtype", "cast", casts));
    ops.push(kernels("full", "creation", per_width("fill")));
    ops.push(KernelOp { name: "arange", family: "creation", cuda: CudaImpl::Host });
    ops.push(KernelOp { name: "eye", family: "creation", cuda: CudaImpl::Host });
    ops.push(kernels("rand_uniform", "random", per_dtype("uniform", FLOATS)));
    ops.push(kernels("rand_normal", "random", per_dtype("normal", FLOATS)));
    ops.push(kernels("bernoulli", "random", per_dtype("bernoulli", &[FLOATS, &[DType::U8]].concat())));
    ops.push(kernels("dropout", "random", per_dtype("dropout", FLOATS)));
    let updates = ["optim_sgd", "optim_sgd_momentum", "optim_adam", "optim_rmsprop", "optim_rmsprop_momentum"];
    let update_kernels = updates.iter().flat_map(|u| per_dtype(u, &FLOATS[..2]).collect::<Vec<_>>());
    ops.push(kernels("optim_step_", "optim", update_kernels));
    let masters = updates.iter().flat_map(|u| per_dtype(&format!("{u}_master"), &FLOATS[2..]).collect::<Vec<_>>());
    ops.push(kernels("optim_step_master_", "optim", masters));
    ops
}

/// The op families, each once, in the order of [`registry`].
pub fn families() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for op in registry() {
        if !out.contains(&op.family) {
            out.push(op.family);
        }
    }
    out
}
