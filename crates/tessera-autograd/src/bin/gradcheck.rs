//! `gradcheck`: property-based gradient checks of every differentiable op.
//!
//! ```text
//! gradcheck [--cases N] [--seed S] [--op NAME] [--device cpu|cuda|all] [--list]
//! ```
//!
//! Prints a table (op, device, cases, max absolute and relative error) and exits non-zero on any
//! failure, printing the seed that reproduces it.

use std::process::ExitCode;
use std::time::Instant;
use tessera_autograd::gradcheck::{format_table, registry, run_all};

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
    let checks = registry();
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
    if args.device != "cpu" {
        println!("cuda: this build has no CUDA backend; skipping the cuda device");
        if args.device == "cuda" {
            return ExitCode::FAILURE;
        }
    }
    let start = Instant::now();
    let reports = run_all(args.op.as_deref(), args.cases, args.seed);
    print!("{}", format_table(&reports));
    let failures: Vec<_> = reports.iter().filter_map(|r| r.failure.as_ref().map(|f| (r.op, f))).collect();
    for (op, failure) in &failures {
        println!("FAILED {op}: {failure}");
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
