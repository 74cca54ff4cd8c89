//! conv2d forward and backward of the two convolutions of the Keras MNIST convnet at batch 64
//! (Conv 1->32 3x3 on 28x28 with the input constant, Conv 32->64 3x3 on 26x26 with the input's
//! gradient), on 1 and 2 threads, printing the fastest call's milliseconds (and on one thread the mean CPU time per call); `benches/conv_torch.py` times
//! the same in PyTorch.
//! `cargo run --release -p tessera-benches --example conv_step -- [ITERS]`

use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

use std::time::Instant;
use tessera_autograd::Var;
use tessera_tensor::{Conv2dSpec, DType, Device, Generator, Tensor};

/// This thread's time on a CPU so far, in milliseconds (`/proc/thread-self/schedstat`; 0
/// where there is none).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 1e6
}

/// Milliseconds of `f` after two warm-up calls: the fastest of `iters` calls by the wall clock,
/// and the mean CPU time of the calling thread (on one thread, what the call costs however busy
/// the machine is).
fn time(iters: usize, f: &dyn Fn()) -> (f64, f64) {
    f();
    f();
    let cpu = cpu_ms();
    let wall = (0..iters)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min);
    (wall, (cpu_ms() - cpu) / iters as f64)
}

fn main() {
    tessera_benches::end_quietly_on_closed_pipe();
    let iters: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (mut g, dev, spec) = (Generator::new(0), Device::Cpu, Conv2dSpec::default());
    let randn = |g: &mut Generator, dims: &[usize]| Tensor::randn(g, dims.to_vec(), DType::F32, &dev).unwrap();
    // (name, input, whether the input needs its gradient, out channels)
    let layers =
        [("conv1 1->32 28x28", [64, 1, 28, 28], false, 32), ("conv2 32->64 26x26", [64, 32, 26, 26], true, 64)];
    for (name, dims, input_grad, oc) in layers {
        let x = Var::new(randn(&mut g, &dims), input_grad).unwrap();
        let w = Var::param(randn(&mut g, &[oc, dims[1], 3, 3]).scale(0.1).unwrap()).unwrap();
        let b = Var::param(randn(&mut g, &[oc])).unwrap();
        let dy = Tensor::ones([64, oc, dims[2] - 2, dims[3] - 2], DType::F32, &dev).unwrap();
        for threads in [1, 2] {
            tessera_benches::pool(threads).install(|| {
                let fwd = time(iters, &|| drop(x.tensor().conv2d(w.tensor(), Some(b.tensor()), &spec).unwrap()));
                let both = time(iters, &|| {
                    let y = x.conv2d(&w, Some(&b), &spec).unwrap();
                    y.backward_with(Some(&dy), false).unwrap();
                    w.zero_grad();
                    b.zero_grad();
                    x.zero_grad();
                });
                let cpu = |t: (f64, f64)| if threads == 1 { format!(" (cpu {:.2})", t.1) } else { String::new() };
                println!(
                    "{name} t{threads}: forward {:.2}{} ms, forward+backward {:.2}{} ms",
                    fwd.0,
                    cpu(fwd),
                    both.0,
                    cpu(both)
                );
            });
        }
    }
}
