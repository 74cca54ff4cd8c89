//! Compiles every CUDA kernel module with NVRTC for the given architectures (default sm_80 and
//! sm_90) through the runtime's own compile path, prints registers, shared memory and spills per
//! kernel, and fails on a compile error or on any spill. Skips (exit 0) when NVRTC is absent.
//!
//! ```text
//! cargo run -p tessera-kernels --bin compile-kernels [-- sm_80 sm_90 ...]
//! ```

use std::process::ExitCode;
use tessera_kernels::cuda::compile::{compile, nvrtc_available, nvrtc_version, parse_ptxas_log};
use tessera_kernels::cuda::source::MODULES;

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
    println!("{:<28} {:<6} {:>5} {:>6} {:>7} {:>7}", "kernel", "arch", "regs", "smem", "spill-s", "spill-l");
    let (mut failures, mut spills, mut kernels) = (Vec::new(), 0, 0);
    let mut summary = Vec::new();
    for arch in &archs {
        for module in MODULES.iter() {
            let start = std::time::Instant::now();
            match compile(module, arch, true) {
                Err(e) => failures.push(format!("{}: {e}", module.name)),
                Ok(out) => {
                    let rows = parse_ptxas_log(&out.log);
                    if rows.is_empty() {
                        failures.push(format!("{} for {arch}: no ptxas resource lines in the log", module.name));
                    }
                    for r in &rows {
                        kernels += 1;
                        let spilled = r.spill_stores + r.spill_loads > 0;
                        spills += spilled as usize;
                        println!(
                            "{:<28} {:<6} {:>5} {:>6} {:>7} {:>7}{}",
                            r.kernel,
                            arch,
                            r.registers,
                            r.shared_bytes,
                            r.spill_stores,
                            r.spill_loads,
                            if spilled { "  SPILLS" } else { "" }
                        );
                    }
                    summary.push(format!(
                        "{:<10} {:<6} {:>7} {:>8} {:>9} {:>7} {:>9.1}",
                        module.name,
                        arch,
                        rows.len(),
                        rows.iter().map(|r| r.registers).max().unwrap_or(0),
                        rows.iter().map(|r| r.shared_bytes).max().unwrap_or(0),
                        rows.iter().map(|r| r.spill_stores + r.spill_loads).sum::<u32>(),
                        start.elapsed().as_secs_f64()
                    ));
                    eprintln!(
                        "{}.cu for {arch}: {} kernels, {} KiB cubin, {:.2} s",
                        module.name,
                        rows.len(),
                        out.cubin.len() / 1024,
                        start.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
    println!(
        "\n{:<10} {:<6} {:>7} {:>8} {:>9} {:>7} {:>9}",
        "module", "arch", "kernels", "max-regs", "max-smem", "spills", "compile-s"
    );
    for line in &summary {
        println!("{line}");
    }
    println!("{kernels} kernel builds over {} architectures, {spills} with spills", archs.len());
    for f in &failures {
        eprintln!("compile error: {f}");
    }
    if !failures.is_empty() || spills > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
