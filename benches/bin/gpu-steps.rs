//! Training steps on a device, for `benches/gpu/run.sh` beside `benches/gpu/torch_compare.py`:
//! the MLP step at batch 256 (`MlpWorkload`: zero grads, forward, cross-entropy, backward, Adam)
//! and the LM step (`lm_workload_on`: vocabulary 5,000, embedding 128, LSTM 256, 35 steps of 32
//! streams, dropout 0.2, Adam clipping at norm 0.5, through `Trainer::train_step`, which reads
//! the loss and the gradients' norm back each step). Mean milliseconds per step over `--iters`
//! steps after 3 warm-up steps; the clock stops after a value is read back from the device.
//! One JSON object per line, as gpu-bench's (`--out FILE` writes them too).
//!
//! ```text
//! cargo run --release -p tessera-benches --bin gpu-steps -- [--device cuda|cpu] [--iters 50] [--out FILE]
//! ```

use std::time::Instant;
use tessera_benches::workloads::MlpWorkload;
use tessera_benches::{lm_trainer, lm_workload_on};
use tessera_tensor::Device;

/// Mean seconds per call of `step` over `iters` calls after 3 warm-up calls; `sync` reads a
/// value back so that the device has finished.
fn per_step(iters: usize, mut step: impl FnMut(), sync: impl Fn()) -> f64 {
    for _ in 0..3 {
        step();
    }
    sync();
    let start = Instant::now();
    for _ in 0..iters {
        step();
    }
    sync();
    start.elapsed().as_secs_f64() / iters as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let iters: usize = flag("--iters").map(|v| v.parse()).transpose()?.unwrap_or(50);
    let device = match flag("--device").as_deref().unwrap_or("cuda") {
        "cpu" => Device::Cpu,
        "cuda" => match Device::cuda(0) {
            Ok(d) => d,
            Err(e) => {
                println!("gpu-steps: skipped, no CUDA device: {e}");
                return Ok(());
            }
        },
        other => return Err(format!("--device {other}: expected cuda or cpu").into()),
    };
    let mut lines = Vec::new();
    let mut report = |op: &str, shape: &str, secs: f64| {
        let line = format!(
            "{{\"impl\":\"tessera\",\"op\":\"{op}\",\"dtype\":\"f32\",\"shape\":\"{shape}\",\"ms\":{:.4},\"gbps\":0,\"tflops\":0}}",
            secs * 1e3
        );
        println!("{line}");
        lines.push(line);
    };

    let mut mlp = MlpWorkload::on(256, &device);
    let last = std::cell::RefCell::new(None);
    let t = per_step(
        iters,
        || *last.borrow_mut() = Some(mlp.step()),
        || {
            let loss = last.borrow().as_ref().map(|l| l.tensor().to_scalar_f64());
            loss.expect("a step ran").expect("reading the loss");
        },
    );
    report("mlp_step", "b256", t);

    let (lm, windows) = lm_workload_on(8, &device);
    let mut trainer = lm_trainer(&lm);
    let mut next = windows.iter().cycle();
    let t = per_step(
        iters.div_ceil(5),
        || drop(trainer.train_step(next.next().expect("cycling")).expect("LM step")),
        || {},
    );
    report("lm_step", "v5000e128h256s35b32", t);

    if let Some(path) = flag("--out") {
        std::fs::write(&path, lines.join("\n") + "\n").map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
