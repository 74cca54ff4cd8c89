//! `gradcheck`: property-based gradient checks of every differentiable op of the tensor API and
//! of every hand-written backward rule of the workspace (autograd's registry, then nn's).
//!
//! ```text
//! gradcheck [--cases N] [--seed S] [--op NAME] [--device cpu|cuda|all] [--list]
//! ```
//!
//! Prints a table (op, device, cases, max absolute and relative error) and exits non-zero on any
//! failure, printing the seed that reproduces it. `--device cuda` computes every check on CUDA
//! device 0 (in f64, against finite differences taken there too) and fails without one; `all`
//! runs the CPU and, when there is one, the GPU, saying so when it skips it.

use std::process::ExitCode;
use std::time::Instant;
use tessera_autograd::gradcheck::{format_table, registry, run_all, OpCheck};
use tessera_tensor::Device;

const USAGE: &str = "usage: gradcheck [--cases N] [--seed S] [--op NAME] [--device cpu|cuda|all] [--list]";

struct Args {
    cases: u32,
    seed: u64,
    op: Option<String>,
    device: String,
    list: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args { cases: 64, seed: 0x7e55e7a, op: None, device: "cpu".into(), list: false };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--cases" => args.cases = value("--cases")?.parse().map_err(|e| format!("--cases: {e}"))?,
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--op" => args.op = Some(value("--op")?),
            "--device" => args.device = value("--device")?,
            "--list" => args.list = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if !matches!(args.device.as_str(), "cpu" | "cuda" | "all") {
        return Err(format!("--device must be cpu, cuda or all, not '{}'", args.device));
    }
    Ok(args)
}

/// Every check: autograd's (the tensor API), then nn's (its hand-written rules).
fn all_checks() -> Vec<OpCheck> {
    let mut checks = registry();
    checks.extend(tessera_nn::gradcheck::checks());
    checks
}

/// The devices to run on, or an error when a GPU was required and there is none.
fn devices(which: &str) -> Result<Vec<Device>, String> {
    let mut out = Vec::new();
    if which != "cuda" {
        out.push(Device::Cpu);
    }
    if which != "cpu" {
        match Device::cuda(0) {
            Ok(d) => out.push(d),
            Err(e) if which == "all" => println!("cuda: skipped: {e}"),
            Err(e) => return Err(format!("--device cuda: {e}")),
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("gradcheck: {msg}");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    let checks = all_checks();
    if args.list {
        checks.iter().for_each(|c| println!("{}", c.name));
        return ExitCode::SUCCESS;
    }
    if let Some(op) = &args.op {
        if !checks.iter().any(|c| c.name == op) {
            eprintln!("gradcheck: no check named '{op}' (see --list)");
            return ExitCode::from(2);
        }
    }
    let devices = match devices(&args.device) {
        Ok(d) => d,
        Err(msg) => {
            println!("gradcheck: {msg}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let reports: Vec<_> =
        devices.iter().flat_map(|&d| run_all(&checks, args.op.as_deref(), args.cases, args.seed, d)).collect();
    print!("{}", format_table(&reports));
    let failures: Vec<_> = reports.iter().filter_map(|r| r.failure.as_ref().map(|f| (r.op, &r.device, f))).collect();
    for (op, device, failure) in &failures {
        println!("FAILED {op} on {device}: {failure}");
    }
    println!(
        "{} checks, {} failed, {} cases each, seed {}, {:.1} s",
        reports.len(),
        failures.len(),
        args.cases,
        args.seed,
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
