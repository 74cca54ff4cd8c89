//! The runner's parent side: a worker process per target (this program again, with
//! `--worker`), because an allocation failure or a stack overflow aborts a process, which no
//! `catch_unwind` can stop. The worker writes each input to a file before running it; when the
//! worker dies by a signal, or its watchdog ends it for a timeout, or it stops answering, the
//! parent saves that input as a failure and starts a new worker for the time left (which
//! resumes from the corpus the earlier ones kept).

use crate::corpus::signature;
use crate::targets::Target;
use crate::worker::{read_current, save_failure, Stats};
use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The exit code of a worker whose watchdog found a run past the time limit.
pub const TIMEOUT_EXIT: i32 = 75;

/// New workers started for one target at most, after failures.
const MAX_RESTARTS: u32 = 10;

/// How long past its time a worker may run before it is killed as hung.
const GRACE: Duration = Duration::from_secs(20);

/// Lines of a dead worker's standard error quoted in its report.
const STDERR_LINES: usize = 4;

/// What to fuzz, and how.
#[derive(Debug, Clone)]
pub struct Plan {
    /// This program, started again as a worker.
    pub exe: PathBuf,
    /// The targets, fuzzed one after the other.
    pub targets: Vec<&'static Target>,
    /// The time per target.
    pub per_target: Duration,
    /// The seed of the first worker's mutations (restarts use the next ones).
    pub seed: u64,
    /// The longest input.
    pub max_len: usize,
    /// Where failing inputs are saved.
    pub regressions: PathBuf,
    /// The address-space cap of a worker, in bytes.
    pub memory_limit: u64,
}

/// What fuzzing one target did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The target's name.
    pub target: &'static str,
    /// Inputs run, outcomes and corpus size (of the last worker, which replayed the earlier
    /// ones' corpus), and distinct failures of every kind.
    pub stats: Stats,
    /// Seconds spent.
    pub seconds: f64,
}

impl Summary {
    /// Inputs per second.
    pub fn execs_per_second(&self) -> f64 {
        self.stats.execs as f64 / self.seconds.max(1e-9)
    }
}

/// How a worker ended.
enum End {
    /// It ran its time out.
    Finished,
    /// It ended otherwise: the kind of failure and what it said.
    Failed(&'static str, String),
}

/// What a dead worker said on standard error: the line naming the failure (an allocation that
/// failed, a stack overflow, the watchdog's timeout), else its last lines.
fn stderr_message(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let keys = ["memory allocation of", "overflowed its stack", "fatal runtime error", "one input ran", "panicked at"];
    match lines.iter().find(|l| keys.iter().any(|k| l.contains(k))) {
        Some(line) => line.to_string(),
        None => lines[lines.len().saturating_sub(STDERR_LINES)..].join(" / "),
    }
}

/// Classifies a worker's exit.
fn classify(status: ExitStatus, stderr: &Path) -> End {
    let said = stderr_message(stderr);
    match (status.code(), status.signal()) {
        (Some(0), _) => End::Finished,
        (Some(TIMEOUT_EXIT), _) => End::Failed("timeout", said),
        (_, Some(signal)) => End::Failed("abort", format!("killed by signal {signal}: {said}")),
        (code, _) => End::Failed("abort", format!("exit code {code:?}: {said}")),
    }
}

/// Waits for `child` until `deadline`, then kills it.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fuzzes one target with workers until its time is up.
struct TargetRun<'a> {
    plan: &'a Plan,
    target: &'static Target,
    state: PathBuf,
    summary: Summary,
    reported: HashSet<String>,
}

impl TargetRun<'_> {
    /// Starts a worker for `time`, with seed number `attempt`, and waits for it.
    fn worker(&mut self, time: Duration, attempt: u32) -> std::io::Result<End> {
        let stderr = self.state.join("stderr");
        let mut child = Command::new(&self.plan.exe)
            .arg("--worker")
            .args(["--target", self.target.name])
            .args(["--seconds", &format!("{:.3}", time.as_secs_f64())])
            .args(["--seed", &self.plan.seed.wrapping_add(attempt as u64).to_string()])
            .args(["--max-len", &self.plan.max_len.to_string()])
            .args(["--memory-limit", &self.plan.memory_limit.to_string()])
            .arg("--regressions")
            .arg(&self.plan.regressions)
            .arg("--state")
            .arg(&self.state)
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()?;
        let status = wait_until(&mut child, Instant::now() + time + GRACE)?;
        if let Some(stats) = std::fs::read_to_string(self.state.join("stats")).ok().and_then(|l| Stats::from_line(&l)) {
            let total = &mut self.summary.stats;
            (total.execs, total.failures) = (total.execs + stats.execs, total.failures + stats.failures);
            (total.outcomes, total.corpus) = (stats.outcomes.max(total.outcomes), stats.corpus);
            let _ = std::fs::remove_file(self.state.join("stats"));
        }
        Ok(match status {
            Some(status) => classify(status, &stderr),
            None => End::Failed("timeout", format!("the worker stopped answering: {}", stderr_message(&stderr))),
        })
    }

    /// Saves and reports the input a dead worker was running (once per kind and message, which
    /// is what counts as a failure).
    fn failed(&mut self, kind: &str, message: &str) {
        let Some(input) = read_current(&self.state) else {
            self.summary.stats.failures += 1;
            println!(
                "FAILURE {}: {kind}: {message}\n  input: unknown (the worker died before running one)",
                self.target.name
            );
            return;
        };
        if !self.reported.insert(format!("{kind} {}", signature(message))) {
            return;
        }
        self.summary.stats.failures += 1;
        let saved = save_failure(&self.plan.regressions, self.target.name, &input)
            .map_or_else(|e| format!("(not saved: {e})"), |p| p.display().to_string());
        println!("FAILURE {}: {kind}: {message}\n  input: {saved} ({} bytes)", self.target.name, input.len());
    }

    fn run(mut self) -> std::io::Result<Summary> {
        std::fs::create_dir_all(&self.state)?;
        let start = Instant::now();
        for attempt in 0..=MAX_RESTARTS {
            let left = self.plan.per_target.saturating_sub(start.elapsed());
            if attempt > 0 && left < Duration::from_millis(500) {
                break;
            }
            match self.worker(left, attempt)? {
                End::Finished => break,
                End::Failed(kind, message) => self.failed(kind, &message),
            }
            if read_current(&self.state).is_none() {
                break; // It died before running anything: restarting would do the same.
            }
        }
        self.summary.seconds = start.elapsed().as_secs_f64();
        Ok(self.summary)
    }
}

/// Fuzzes every target of `plan` in turn; returns what each run did.
pub fn run(plan: &Plan) -> std::io::Result<Vec<Summary>> {
    let root = crate::input::fast_temp_dir().join(format!("tessera-fuzz-{}", std::process::id()));
    let mut summaries = Vec::new();
    for &target in &plan.targets {
        let run = TargetRun {
            plan,
            target,
            state: root.join(target.name),
            summary: Summary { target: target.name, stats: Stats::default(), seconds: 0.0 },
            reported: HashSet::new(),
        };
        let summary = run.run();
        let _ = std::fs::remove_dir_all(root.join(target.name));
        summaries.push(summary?);
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(summaries)
}

/// The summaries as a table.
pub fn table(summaries: &[Summary]) -> String {
    let mut out = format!(
        "{:<16}{:>12}{:>10}{:>10}{:>9}{:>10}\n",
        "target", "executions", "exec/s", "outcomes", "corpus", "failures"
    );
    for s in summaries {
        out.push_str(&format!(
            "{:<16}{:>12}{:>10.0}{:>10}{:>9}{:>10}\n",
            s.target,
            s.stats.execs,
            s.execs_per_second(),
            s.stats.outcomes,
            s.stats.corpus,
            s.stats.failures
        ));
    }
    out
}
