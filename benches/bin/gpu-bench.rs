//! A small CUDA benchmark of the kernels (`benches/gpu/run.sh` runs it on a GPU machine): every
//! op of the unary and binary tables, dropout and casts between f32 and bf16 on 256M elements;
//! sum, softmax, log-sum-exp and LayerNorm over [65536, 1024],
//! fused cross-entropy forward and backward, the fused LSTM cell (forward and backward, gates
//! [32, 1024] and [4096, 4096]), 2x2 max pooling and batch norm forward and backward at the
//! Keras MNIST convnet's sizes, conv2d forward and backward (its 32->64 3x3 layer at batch 64),
//! matmul 4096² in f32 and bf16, and host/device copy bandwidth.
//! Prints one JSON object per line (and writes them to the file given with `--out`). Exits 0
//! with a message when there is no GPU. `--small` runs every benchmark at a few thousandth of its
//! size: a dry run of the program and of the report on the CUDA host emulator
//! (`TESSERA_CUDA_EMULATOR=1`), which `benches/gpu/run.sh` makes there.
//!
//! ```text
//! cargo run --release -p tessera-benches --bin gpu-bench -- [--out results.jsonl] [--iters 20] [--small]
//! ```

use std::sync::Arc;
use std::time::Instant;
use tessera_core::{DType, Layout, Philox, Shape};
use tessera_kernels::cuda::{self, CudaBuffer, CudaDevice};
use tessera_kernels::ops::{BinaryOp, ReduceOp, SoftmaxKind, UnaryOp};
use tessera_kernels::plan::{
    Arg, Conv2dPlan, Conv2dSpec, CrossEntropyBackwardPlan, Distribution, DropoutMask, LogSumExpPlan,
    LstmCellBackwardPlan, LstmCellPlan, MatmulPlan, NormKind, NormPlan, RandomPlan, ReducePlan, SoftmaxPlan, UnaryPlan,
};
use tessera_kernels::Result;

/// Mean seconds per call of `f` over `iters` calls, after one warm-up call (which compiles the
/// kernel module on first use).
fn time(dev: &CudaDevice, iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    dev.synchronize()?;
    let start = Instant::now();
    for _ in 0..iters {
        f()?;
    }
    dev.synchronize()?;
    Ok(start.elapsed().as_secs_f64() / iters as f64)
}

fn rand(dev: &Arc<CudaDevice>, rng: &mut Philox, dtype: DType, n: usize) -> Result<CudaBuffer> {
    cuda::random(dev, &RandomPlan::new(Distribution::Uniform { lo: 0.1, hi: 1.0 }, rng, dtype, n)?)
}

/// The benchmarks' sizes.
struct Sizes {
    /// Elements of the unary, binary and dropout operands.
    elems: usize,
    /// Rows of the `[rows, 1024]` sum, softmax, log-sum-exp and LayerNorm.
    reduce_rows: usize,
    /// `[rows, classes]` of the two cross-entropy logits.
    cross_entropy: [(usize, usize); 2],
    /// Batch of the large LSTM cell (hidden 1024); the small one is the LM's, `[32, 256]`.
    lstm_batch: usize,
    /// Batch of the convnet's pooling, batch norm and convolution.
    image_batch: usize,
    /// Side of the square matmuls.
    matmul: usize,
    /// Bytes of the host/device copies.
    copy_bytes: usize,
}

impl Sizes {
    /// The sizes whose figures `benches/gpu/report.py` sets against PyTorch's.
    const FULL: Sizes = Sizes {
        elems: 256 << 20,
        reduce_rows: 65536,
        cross_entropy: [(1120, 5000), (8192, 32000)],
        lstm_batch: 4096,
        image_batch: 64,
        matmul: 4096,
        copy_bytes: 1 << 30,
    };
    /// A dry run's.
    const SMALL: Sizes = Sizes {
        elems: 1 << 16,
        reduce_rows: 64,
        cross_entropy: [(16, 5000), (4, 32000)],
        lstm_batch: 8,
        image_batch: 2,
        matmul: 128,
        copy_bytes: 1 << 20,
    };
}

/// A plan's view of a contiguous buffer of `dtype`.
fn arg(dtype: DType, layout: &Layout) -> Arg<'_> {
    Arg::new(dtype, layout)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gpu-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let iters: usize = flag("--iters").and_then(|v| v.parse().ok()).unwrap_or(20);
    let out = flag("--out");
    let sizes = if args.iter().any(|a| a == "--small") { Sizes::SMALL } else { Sizes::FULL };
    let dev = match CudaDevice::get(0) {
        Ok(d) => d,
        Err(e) => {
            println!("gpu-bench: skipped, no CUDA device: {e}");
            return Ok(());
        }
    };
    eprintln!("gpu-bench on {} ({})", dev.name(), dev.arch());
    let mut lines = Vec::new();
    let mut report = |op: &str, dtype: DType, shape: &str, secs: f64, bytes: f64, flops: f64| {
        let line = format!(
            "{{\"impl\":\"tessera\",\"op\":\"{op}\",\"dtype\":\"{dtype}\",\"shape\":\"{shape}\",\"ms\":{:.4},\"gbps\":{:.1},\"tflops\":{:.2}}}",
            secs * 1e3,
            bytes / secs / 1e9,
            flops / secs / 1e12
        );
        println!("{line}");
        lines.push(line);
    };
    let mut rng = Philox::new(0);

    let n = sizes.elems;
    let flat = Layout::contiguous(Shape::new(vec![n]));
    let (a, b) = (rand(&dev, &mut rng, DType::F32, n)?, rand(&dev, &mut rng, DType::F32, n)?);
    let f32s = arg(DType::F32, &flat);
    for &op in BinaryOp::ALL {
        let plan = tessera_kernels::plan::BinaryPlan::new(op, f32s, f32s)?;
        let t = time(&dev, iters, || cuda::binary(&plan, &a, &b).map(drop))?;
        report(op.name(), DType::F32, &n.to_string(), t, 12.0 * n as f64, n as f64);
    }
    // One instance of each row of the unary table (inputs in (0.1, 1): every op is finite).
    for &name in UnaryOp::NAMES {
        let op = *UnaryOp::EXAMPLES.iter().find(|op| op.name() == name).expect("an example per row");
        let plan = UnaryPlan::new(op, f32s)?;
        let t = time(&dev, iters, || cuda::unary(&plan, &a).map(drop))?;
        report(name, DType::F32, &n.to_string(), t, 8.0 * n as f64, n as f64);
    }
    let plan = tessera_kernels::plan::DropoutPlan::new(f32s, DropoutMask::draw(0.1, &mut Philox::new(1), n)?)?;
    let t = time(&dev, iters, || cuda::dropout(&plan, &a).map(drop))?;
    report("dropout", DType::F32, &n.to_string(), t, 8.0 * n as f64, 0.0);
    // Casts both ways between f32 and bf16: 6 bytes per element.
    let t = time(&dev, iters, || cuda::cast(&a, &flat, DType::BF16).map(drop))?;
    report("cast_to_bf16", DType::F32, &n.to_string(), t, 6.0 * n as f64, 0.0);
    let halves = cuda::cast(&a, &flat, DType::BF16)?;
    let t = time(&dev, iters, || cuda::cast(&halves, &flat, DType::F32).map(drop))?;
    report("cast_to_f32", DType::BF16, &n.to_string(), t, 6.0 * n as f64, 0.0);
    drop(halves);
    drop((a, b));

    let (rows, cols) = (sizes.reduce_rows, 1024);
    let matrix = format!("{rows}x{cols}");
    let l = Layout::contiguous(Shape::new(vec![rows, cols]));
    let x = rand(&dev, &mut rng, DType::F32, rows * cols)?;
    let plan = ReducePlan::reduce(ReduceOp::Sum, arg(DType::F32, &l), &[1], false)?;
    let t = time(&dev, iters, || cuda::reduce(&plan, &x).map(drop))?;
    report("sum_dim1", DType::F32, &matrix, t, 4.0 * (rows * cols + rows) as f64, (rows * cols) as f64);
    let plan = SoftmaxPlan::new(SoftmaxKind::Softmax, arg(DType::F32, &l), 1)?;
    let t = time(&dev, iters, || cuda::softmax(&plan, &x).map(drop))?;
    report("softmax_dim1", DType::F32, &matrix, t, 8.0 * (rows * cols) as f64, 0.0);
    let plan = LogSumExpPlan::new(arg(DType::F32, &l), 1, false)?;
    let t = time(&dev, iters, || cuda::logsumexp(&plan, &x).map(drop))?;
    report("logsumexp_dim1", DType::F32, &matrix, t, 4.0 * (rows * cols + rows) as f64, 0.0);
    // LayerNorm with weight and bias over the rows, as a transformer's: reads x, writes y.
    let wl = Layout::contiguous(Shape::new(vec![cols]));
    let (w, b) = (rand(&dev, &mut rng, DType::F32, cols)?, rand(&dev, &mut rng, DType::F32, cols)?);
    let (xa, pa) = (arg(DType::F32, &l), arg(DType::F32, &wl));
    let plan = NormPlan::new(NormKind::Layer, xa, Some(pa), Some(pa), 1e-5)?;
    let t = time(&dev, iters, || cuda::norm(&plan, &x, Some(&w), Some(&b)).map(drop))?;
    report("layer_norm", DType::F32, &matrix, t, 8.0 * (rows * cols) as f64, 0.0);
    drop(x);

    // Fused cross-entropy, forward (logsumexp) and backward, at the LM's logits and at an LLM's:
    // the minimum traffic is two reads of the logits and one write of their gradient.
    for (rows, classes) in sizes.cross_entropy {
        let (l, flat) =
            (Layout::contiguous(Shape::new(vec![rows, classes])), Layout::contiguous(Shape::new(vec![rows])));
        let logits = rand(&dev, &mut rng, DType::F32, rows * classes)?;
        let ids: Vec<u32> = (0..rows).map(|i| (i * 7919 % classes) as u32).collect();
        let target = CudaBuffer::from_cpu(&dev, &tessera_kernels::cpu::CpuBuffer::U32(ids))?;
        let scale = CudaBuffer::from_cpu(&dev, &tessera_kernels::cpu::full(DType::F32, rows, 1.0 / rows as f64))?;
        let lse_plan = LogSumExpPlan::new(arg(DType::F32, &l), 1, false)?;
        let (f, u) = (arg(DType::F32, &flat), arg(DType::U32, &flat));
        let plan = CrossEntropyBackwardPlan::new(arg(DType::F32, &l), f, u, f, 0.0)?;
        let t = time(&dev, iters, || {
            let lse = cuda::logsumexp(&lse_plan, &logits)?;
            cuda::cross_entropy_backward(&plan, &logits, &lse, &target, &scale).map(drop)
        })?;
        report(
            "cross_entropy_fwd_bwd",
            DType::F32,
            &format!("{rows}x{classes}"),
            t,
            12.0 * (rows * classes) as f64,
            0.0,
        );
    }

    // The fused LSTM cell: each direction moves 13 elements per (row, unit).
    for (batch, hidden) in [(32, 256), (sizes.lstm_batch, 1024)] {
        let n = batch * hidden;
        let (gl, sl) = (
            Layout::contiguous(Shape::new(vec![batch, 4 * hidden])),
            Layout::contiguous(Shape::new(vec![batch, hidden])),
        );
        let (x, h) = (rand(&dev, &mut rng, DType::F32, 4 * n)?, rand(&dev, &mut rng, DType::F32, 4 * n)?);
        let (c0, d) = (rand(&dev, &mut rng, DType::F32, n)?, rand(&dev, &mut rng, DType::F32, n)?);
        let shape = format!("{batch}x{}", 4 * hidden);
        let (g, s) = (arg(DType::F32, &gl), arg(DType::F32, &sl));
        let plan = LstmCellPlan::new(g, g, s)?;
        let t = time(&dev, iters, || cuda::lstm_cell(&plan, [&x, &h, &c0]).map(drop))?;
        report("lstm_cell", DType::F32, &shape, t, 4.0 * 13.0 * n as f64, 0.0);
        let [_, c1, acts] = cuda::lstm_cell(&plan, [&x, &h, &c0])?;
        let plan = LstmCellBackwardPlan::new([g, s, s, s, s])?;
        let t = time(&dev, iters, || cuda::lstm_cell_backward(&plan, [&acts, &c0, &c1, &d, &d]).map(drop))?;
        report("lstm_cell_backward", DType::F32, &shape, t, 4.0 * 13.0 * n as f64, 0.0);
    }

    // Pooling and batch norm at the Keras MNIST convnet's sizes, forward and backward: max pool
    // reads x (4n bytes), writes y and the i64 indices (3n), reads them back (3n), zeroes and
    // writes dx (8n); batch norm reads x three times and writes y, then reads x and dy twice and
    // writes dx (9 passes of 4n).
    {
        use tessera_kernels::plan::{
            BatchNormBackwardPlan, BatchNormPlan, MaxPool2dSpec, PoolBackwardPlan, PoolKind, PoolPlan,
        };
        let images = sizes.image_batch;
        let xl = Layout::contiguous(Shape::new(vec![images, 64, 24, 24]));
        let n = xl.elem_count();
        let x = rand(&dev, &mut rng, DType::F32, n)?;
        let plan = PoolPlan::new(PoolKind::Max(MaxPool2dSpec::new([2, 2])), arg(DType::F32, &xl))?;
        let ol = Layout::contiguous(plan.out_shape.clone());
        let back = PoolBackwardPlan::new(plan.clone(), arg(DType::F32, &ol), Some(arg(DType::I64, &ol)))?;
        let t = time(&dev, iters, || {
            let [y, idx] = cuda::max_pool2d(&plan, &x)?;
            cuda::max_pool2d_backward(&back, &y, &idx).map(drop)
        })?;
        report("max_pool2d_fwd_bwd", DType::F32, &format!("{images}x64x24x24"), t, 18.0 * n as f64, 0.0);
        let bl = Layout::contiguous(Shape::new(vec![images, 32, 26, 26]));
        let (n, sl) = (bl.elem_count(), Layout::contiguous(Shape::new(vec![3, 32])));
        let x = rand(&dev, &mut rng, DType::F32, n)?;
        let plan = BatchNormPlan::new(arg(DType::F32, &bl), None, None, None, true, 1e-5)?;
        let back =
            BatchNormBackwardPlan::new(arg(DType::F32, &bl), None, arg(DType::F32, &bl), arg(DType::F32, &sl), true)?;
        let t = time(&dev, iters, || {
            let [y, saved] = cuda::batch_norm(&plan, &x, None, None, None)?;
            cuda::batch_norm_backward(&back, &x, None, &y, &saved).map(drop)
        })?;
        report("batch_norm_fwd_bwd", DType::F32, &format!("{images}x32x26x26"), t, 4.0 * 9.0 * n as f64, 0.0);
    }

    // conv2d forward and its two gradients: the Keras MNIST convnet's second layer at batch 64.
    {
        let (n, c, hw, oc) = (sizes.image_batch, 32, 26, 64);
        let (xl, wl, yl) = (
            Layout::contiguous(Shape::new(vec![n, c, hw, hw])),
            Layout::contiguous(Shape::new(vec![oc, c, 3, 3])),
            Layout::contiguous(Shape::new(vec![n, oc, hw - 2, hw - 2])),
        );
        let x = rand(&dev, &mut rng, DType::F32, xl.elem_count())?;
        let w = rand(&dev, &mut rng, DType::F32, wl.elem_count())?;
        let dy = rand(&dev, &mut rng, DType::F32, yl.elem_count())?;
        let (xa, wa, ya) = (arg(DType::F32, &xl), arg(DType::F32, &wl), arg(DType::F32, &yl));
        let spec = Conv2dSpec::default();
        let (fwd, dx, dw) = (
            Conv2dPlan::new(xa, wa, None, &spec)?,
            Conv2dPlan::input_grad(ya, wa, &spec, [hw, hw])?,
            Conv2dPlan::weight_grad(xa, ya, &spec, [3, 3])?,
        );
        let t = time(&dev, iters, || {
            cuda::conv2d(&fwd, &x, &w, None)?;
            cuda::conv2d_input_grad(&dx, &dy, &w)?;
            cuda::conv2d_weight_grad(&dw, &x, &dy).map(drop)
        })?;
        let flops = 3.0 * 2.0 * (yl.elem_count() * c * 9) as f64;
        report("conv2d_fwd_bwd", DType::F32, &format!("{n}x32x26x26,64x32x3x3"), t, 0.0, flops);
    }

    let m = sizes.matmul;
    let ml = Layout::contiguous(Shape::new(vec![m, m]));
    for dtype in [DType::F32, DType::BF16] {
        let (p, q) = (rand(&dev, &mut rng, dtype, m * m)?, rand(&dev, &mut rng, dtype, m * m)?);
        let plan = MatmulPlan::new(arg(dtype, &ml), arg(dtype, &ml), None)?;
        let t = time(&dev, iters, || cuda::matmul(&plan, &p, &q, None).map(drop))?;
        report(
            "matmul",
            dtype,
            &format!("{m}x{m}x{m}"),
            t,
            3.0 * (m * m * dtype.size_in_bytes()) as f64,
            2.0 * (m as f64).powi(3),
        );
    }

    let bytes = sizes.copy_bytes;
    let size = if bytes >= 1 << 30 { format!("{}GiB", bytes >> 30) } else { format!("{}MiB", bytes >> 20) };
    let host = tessera_kernels::cpu::full(DType::U8, bytes, 1.0);
    let dbuf = CudaBuffer::from_cpu(&dev, &host)?;
    let t = time(&dev, 5, || CudaBuffer::from_cpu(&dev, &host).map(drop))?;
    report("copy_h2d", DType::U8, &size, t, bytes as f64, 0.0);
    let t = time(&dev, 5, || dbuf.to_cpu().map(drop))?;
    report("copy_d2h", DType::U8, &size, t, bytes as f64, 0.0);
    let bl = Layout::contiguous(Shape::new(vec![bytes]));
    let t = time(&dev, iters, || cuda::copy_strided(&dbuf, &bl).map(drop))?;
    report("copy_d2d", DType::U8, &size, t, 2.0 * bytes as f64, 0.0);
    eprintln!("pool: {:?}", dev.pool_stats());

    if let Some(path) = out {
        std::fs::write(&path, lines.join("\n") + "\n")
            .map_err(|e| tessera_kernels::Error::Cuda { op: "write results", msg: format!("{path}: {e}") })?;
    }
    Ok(())
}
