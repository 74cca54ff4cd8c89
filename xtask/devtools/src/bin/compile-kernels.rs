//! Compiles every CUDA kernel module with NVRTC for the given architectures (default sm_80 and
//! sm_90) through the runtime's own compile path, prints registers, shared memory and spills per
//! kernel, and fails on a compile error, on any spill, or when a kernel that the op registry
//! declares is not in its module. Modules compile on every core at once. Skips (exit 0) when
//! NVRTC is absent.
//!
//! ```text
//! cargo xtask kernels [sm_80 sm_90 ...]
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tessera_kernels::cuda::compile::{compile, nvrtc_available, nvrtc_version, parse_ptxas_log, KernelResources};
use tessera_kernels::cuda::source::{KernelModule, MODULES};
use tessera_kernels::ops::registry::{registry, CudaImpl};

/// One module compiled for one architecture: its kernels' resources, or the compile error.
struct Outcome {
    module: &'static str,
    arch: String,
    result: Result<(Vec<KernelResources>, usize), String>,
    seconds: f64,
}

/// Compiles every (architecture, module) pair on `threads` threads, results in job order.
fn compile_all(archs: &[String], threads: usize) -> Vec<Outcome> {
    let jobs: Vec<(&String, &KernelModule)> = archs.iter().flat_map(|a| MODULES.iter().map(move |m| (a, m))).collect();
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(arch, module)) = jobs.get(i) else { break };
                let start = Instant::now();
                let result = compile(module, arch, true)
                    .map(|out| (parse_ptxas_log(&out.log), out.cubin.len()))
                    .map_err(|e| e.to_string());
                let outcome =
                    Outcome { module: module.name, arch: arch.clone(), result, seconds: start.elapsed().as_secs_f64() };
                done.lock().unwrap_or_else(|e| e.into_inner()).push((i, outcome));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

/// The kernels the op registry declares for `module` that `rows` lacks.
fn undeclared(module: &str, rows: &[KernelResources]) -> Vec<String> {
    let mut missing = Vec::new();
    for op in registry().iter().filter(|op| op.family == module) {
        let CudaImpl::Kernels(symbols) = &op.cuda else { continue };
        for s in symbols.iter().filter(|s| !rows.iter().any(|r| &r.kernel == *s)) {
            missing.push(format!("op {} declares {s}", op.name));
        }
    }
    missing
}

fn main() -> ExitCode {
    let mut archs: Vec<String> = std::env::args().skip(1).collect();
    if archs.is_empty() {
        archs = vec!["sm_80".into(), "sm_90".into()];
    }
    if !nvrtc_available() {
        println!(
            "CUDA kernel compile check: SKIPPED (libnvrtc cannot be loaded; put its lib folder on LD_LIBRARY_PATH)"
        );
        return ExitCode::SUCCESS;
    }
    match nvrtc_version() {
        Ok((major, minor)) => println!("NVRTC {major}.{minor}"),
        Err(e) => println!("NVRTC version unknown: {e}"),
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let outcomes = compile_all(&archs, threads);
    println!("{:<28} {:<6} {:>5} {:>6} {:>7} {:>7}", "kernel", "arch", "regs", "smem", "spill-s", "spill-l");
    let (mut failures, mut spills, mut kernels, mut summary) = (Vec::new(), 0, 0, Vec::new());
    for o in &outcomes {
        let (rows, cubin) = match &o.result {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{} for {}: {e}", o.module, o.arch));
                continue;
            }
        };
        if rows.is_empty() {
            failures.push(format!("{} for {}: no ptxas resource lines in the log", o.module, o.arch));
        }
        failures.extend(
            undeclared(o.module, rows)
                .into_iter()
                .map(|m| format!("{}.cu for {}: {m}, not compiled", o.module, o.arch)),
        );
        for r in rows {
            kernels += 1;
            let spilled = r.spill_stores + r.spill_loads > 0;
            spills += spilled as usize;
            println!(
                "{:<28} {:<6} {:>5} {:>6} {:>7} {:>7}{}",
                r.kernel,
                o.arch,
                r.registers,
                r.shared_bytes,
                r.spill_stores,
                r.spill_loads,
                if spilled { "  SPILLS" } else { "" }
            );
        }
        summary.push(format!(
            "{:<13} {:<6} {:>7} {:>8} {:>9} {:>7} {:>9.1} {:>9}",
            o.module,
            o.arch,
            rows.len(),
            rows.iter().map(|r| r.registers).max().unwrap_or(0),
            rows.iter().map(|r| r.shared_bytes).max().unwrap_or(0),
            rows.iter().map(|r| r.spill_stores + r.spill_loads).sum::<u32>(),
            o.seconds,
            cubin / 1024
        ));
    }
    println!(
        "\n{:<13} {:<6} {:>7} {:>8} {:>9} {:>7} {:>9} {:>9}",
        "module", "arch", "kernels", "max-regs", "max-smem", "spills", "compile-s", "cubin-KiB"
    );
    for line in &summary {
        println!("{line}");
    }
    println!(
        "{kernels} kernel builds over {} architectures, {spills} with spills, {:.1} s on {threads} threads",
        archs.len(),
        start.elapsed().as_secs_f64()
    );
    for f in &failures {
        eprintln!("compile error: {f}");
    }
    if !failures.is_empty() || spills > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
