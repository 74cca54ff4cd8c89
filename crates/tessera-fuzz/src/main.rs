//! `tessera-fuzz`: fuzzes Tessera's file readers.
//!
//! ```text
//! tessera-fuzz [--target NAME|all] [--seconds N | --minutes N] [--seed N] [--max-len BYTES]
//!              [--regressions DIR] [--memory-limit BYTES]
//! tessera-fuzz --target NAME --replay [FILE...] run inputs in-process, with backtraces (no
//!                                               files: the seeds and the saved failures)
//! tessera-fuzz --list                           the targets
//! ```
//!
//! Each target runs in a worker process for its time (default 10 s each); failures (panics,
//! aborts, runs over a second) are saved to `regressions/<target>/<hash>.bin` and reported, and
//! the program then exits with status 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tessera_fuzz::exec::{execute, start_watchdog, Verdict};
use tessera_fuzz::input::set_scratch_root;
use tessera_fuzz::seeds::regression_dir;
use tessera_fuzz::supervise::{self, Plan, TIMEOUT_EXIT};
use tessera_fuzz::targets::{target, Target, TARGETS};
use tessera_fuzz::worker::{self, short_backtrace, Campaign};
use tessera_fuzz::{sys, DEFAULT_MAX_LEN, DEFAULT_MEMORY_LIMIT};

/// The command line.
#[derive(Debug)]
struct Args {
    target: String,
    time: Duration,
    seed: u64,
    max_len: usize,
    regressions: PathBuf,
    memory_limit: u64,
    worker: bool,
    state: Option<PathBuf>,
    replay: Option<Vec<PathBuf>>,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: "all".into(),
        time: Duration::from_secs(10),
        seed: 0,
        max_len: DEFAULT_MAX_LEN,
        regressions: regression_dir(),
        memory_limit: DEFAULT_MEMORY_LIMIT,
        worker: false,
        state: None,
        replay: None,
        list: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number =
            |v: String| v.parse::<f64>().ok().filter(|x| *x >= 0.0).ok_or(format!("{flag}: `{v}` is not a number"));
        match flag.as_str() {
            "--target" => a.target = value()?,
            "--seconds" => a.time = Duration::from_secs_f64(number(value()?)?),
            "--minutes" => a.time = Duration::from_secs_f64(number(value()?)? * 60.0),
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--max-len" => a.max_len = value()?.parse().map_err(|e| format!("--max-len: {e}"))?,
            "--memory-limit" => a.memory_limit = value()?.parse().map_err(|e| format!("--memory-limit: {e}"))?,
            "--regressions" => a.regressions = value()?.into(),
            "--state" => a.state = Some(value()?.into()),
            "--worker" => a.worker = true,
            "--list" => a.list = true,
            "--replay" => a.replay = Some(args.by_ref().map(PathBuf::from).collect()),
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(a)
}

/// The targets `--target` names.
fn targets(name: &str) -> Result<Vec<&'static Target>, String> {
    if name == "all" {
        return Ok(TARGETS.iter().collect());
    }
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    target(name)
        .map(|t| vec![t])
        .ok_or_else(|| format!("no target `{name}`: expected all or one of {}", names.join(", ")))
}

/// Ends a worker whose run went past the limit; the parent saves the input.
fn on_timeout(wall: Duration, cpu: Duration) -> ! {
    eprintln!("one input ran {:.2} s ({:.2} s of CPU)", wall.as_secs_f64(), cpu.as_secs_f64());
    std::process::exit(TIMEOUT_EXIT)
}

/// The worker: one campaign in this process.
fn worker(a: &Args, target: &'static Target) -> Result<(), String> {
    let state = a.state.clone().ok_or("--worker needs --state")?;
    set_scratch_root(&state);
    if let Err(e) = sys::limit_address_space(a.memory_limit) {
        eprintln!("tessera-fuzz: could not cap the address space ({e}); carrying on without");
    }
    start_watchdog(on_timeout);
    let campaign = Campaign {
        target,
        duration: a.time,
        seed: a.seed,
        max_len: a.max_len,
        regressions: a.regressions.clone(),
        state: Some(state),
    };
    worker::run(&campaign).map_err(|e| format!("worker: {e}"))?;
    tessera_fuzz::input::remove_scratch_dir();
    Ok(())
}

/// The seeds of `target` (written to files in the scratch folder) and its saved failures.
fn seeds_and_regressions(target: &'static Target, regressions: &std::path::Path) -> Vec<PathBuf> {
    let seeds = tessera_fuzz::seeds::seeds(target.name).into_iter().enumerate();
    let mut files: Vec<PathBuf> =
        seeds.filter_map(|(i, bytes)| tessera_fuzz::input::scratch_file(&format!("seed-{i}"), &bytes).ok()).collect();
    files.extend(tessera_fuzz::seeds::files_in(&regressions.join(target.name)).into_iter().map(|(p, _)| p));
    files
}

/// Runs saved inputs in this process and says what each did; false when one failed.
fn replay(target: &'static Target, files: &[PathBuf]) -> Result<bool, String> {
    let mut ok = true;
    for file in files {
        let input = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let run = execute(target, &input);
        let took = format!("{:.3} s, {:.3} s of CPU", run.wall.as_secs_f64(), run.cpu.as_secs_f64());
        ok &= !run.too_slow();
        match run.verdict {
            Verdict::Done(outcome) => println!("{}: {outcome} ({took})", file.display()),
            Verdict::Panic(p) => {
                ok = false;
                println!(
                    "{}: PANIC at {}: {} ({took})\n{}",
                    file.display(),
                    p.location,
                    p.message,
                    short_backtrace(&p.backtrace)
                );
            }
        }
    }
    tessera_fuzz::input::remove_scratch_dir();
    Ok(ok)
}

fn main_result() -> Result<bool, String> {
    let a = parse_args()?;
    if a.list {
        for t in TARGETS {
            println!("{:<16}{}", t.name, t.about.split_whitespace().collect::<Vec<_>>().join(" "));
        }
        return Ok(true);
    }
    let chosen = targets(&a.target)?;
    if a.worker || a.replay.is_some() {
        let [one] = chosen[..] else { return Err("--worker and --replay take one target".into()) };
        return match &a.replay {
            None => worker(&a, one).map(|_| true),
            Some(files) if files.is_empty() => replay(one, &seeds_and_regressions(one, &a.regressions)),
            Some(files) => replay(one, files),
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let plan = Plan {
        exe,
        targets: chosen,
        per_target: a.time,
        seed: a.seed,
        max_len: a.max_len,
        regressions: a.regressions,
        memory_limit: a.memory_limit,
    };
    let summaries = supervise::run(&plan).map_err(|e| format!("runner: {e}"))?;
    print!("{}", supervise::table(&summaries));
    let failures: u64 = summaries.iter().map(|s| s.stats.failures).sum();
    if failures > 0 {
        println!("{failures} failure(s); inputs saved under {}", plan.regressions.display());
    }
    Ok(failures == 0)
}

fn main() -> ExitCode {
    match main_result() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("tessera-fuzz: {e}");
            }
            eprintln!("usage: tessera-fuzz [--target NAME|all] [--seconds N | --minutes N] [--seed N] [--max-len BYTES] [--regressions DIR] [--memory-limit BYTES] [--replay FILE...] [--list]");
            ExitCode::from(2)
        }
    }
}
