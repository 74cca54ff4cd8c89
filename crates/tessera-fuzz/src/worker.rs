//! A fuzzing campaign on one target, in this process: seeds first, then mutated and random
//! inputs until the time is up. Panics are caught, saved and reported here; aborts and timeouts
//! end the process, and the runner that started it (see [`crate::supervise`]) saves the input
//! this campaign wrote to `current` just before running it.

use crate::corpus::Corpus;
use crate::exec::{execute, Execution, PanicReport, Verdict};
use crate::input::hash_hex;
use crate::mutate::Mutator;
use crate::seeds::{files_in, seeds};
use crate::targets::Target;
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Inputs a corpus keeps at most.
const CORPUS_CAPACITY: usize = 4096;

/// Bytes a corpus keeps at most (the inputs grow to the longest allowed).
const CORPUS_BYTES: usize = 64 << 20;

/// How often the stats are written for the runner (a worker that dies loses the latest).
const STATS_EVERY: Duration = Duration::from_millis(250);

/// One input in this many is purely random.
const RANDOM_ONE_IN: usize = 20;

/// Runs a panic's minimization may take at most.
const MINIMIZE_EXECS: usize = 4000;

/// Backtrace frames printed with a panic (those in Tessera's code).
const BACKTRACE_FRAMES: usize = 12;

/// What a campaign runs and where it writes.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The target.
    pub target: &'static Target,
    /// How long to fuzz.
    pub duration: Duration,
    /// The seed of the mutations.
    pub seed: u64,
    /// The longest input.
    pub max_len: usize,
    /// Where failing inputs are saved (`<regressions>/<target>/<hash>.bin`).
    pub regressions: PathBuf,
    /// A folder kept across restarts of the worker: `current` (the input being run, its length
    /// first as u64 LE), `corpus/` (inputs with new outcomes) and `stats`. `None` keeps nothing.
    pub state: Option<PathBuf>,
}

/// What a campaign did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Inputs run.
    pub execs: u64,
    /// Distinct outcomes seen.
    pub outcomes: usize,
    /// Inputs in the corpus at the end.
    pub corpus: usize,
    /// Failing inputs (distinct panics) found.
    pub failures: u64,
}

impl Stats {
    /// The stats as one line (`execs outcomes corpus failures`).
    pub fn to_line(&self) -> String {
        format!("{} {} {} {}\n", self.execs, self.outcomes, self.corpus, self.failures)
    }

    /// Parses [`Stats::to_line`].
    pub fn from_line(line: &str) -> Option<Stats> {
        let v: Vec<u64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
        match v[..] {
            [execs, outcomes, corpus, failures] => {
                Some(Stats { execs, outcomes: outcomes as usize, corpus: corpus as usize, failures })
            }
            _ => None,
        }
    }
}

/// Saves a failing input as `<dir>/<target>/<hash>.bin`; returns its path.
pub fn save_failure(regressions: &Path, target: &str, input: &[u8]) -> std::io::Result<PathBuf> {
    let dir = regressions.join(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.bin", hash_hex(input)));
    std::fs::write(&path, input)?;
    Ok(path)
}

/// The frames of a backtrace in Tessera's own code (not the standard library's, a dependency's
/// or the fuzzer's machinery), with their places.
pub fn short_backtrace(backtrace: &str) -> String {
    let lines: Vec<&str> = backtrace.lines().collect();
    let mut kept = Vec::new();
    for pair in lines.windows(2) {
        let (frame, place) = (pair[0].trim(), pair[1].trim());
        let Some(path) = place.strip_prefix("at ") else { continue };
        let ours = path.contains("crates/") && !path.contains("/rustc/") && !path.contains(".cargo/registry");
        let machinery = ["tessera-fuzz/src/exec.rs", "tessera-fuzz/src/worker.rs", "tessera-fuzz/src/main.rs"];
        if ours && !machinery.iter().any(|m| path.contains(m)) {
            kept.push(format!("  {frame}\n      at {path}"));
        }
    }
    kept.truncate(BACKTRACE_FRAMES);
    kept.join("\n")
}

/// The campaign's state in its folder.
struct State {
    current: Option<File>,
    buffer: Vec<u8>,
    corpus_dir: Option<PathBuf>,
    stats_path: Option<PathBuf>,
    panics_path: Option<PathBuf>,
}

impl State {
    fn open(dir: Option<&Path>) -> std::io::Result<State> {
        let Some(dir) = dir else {
            return Ok(State {
                current: None,
                buffer: Vec::new(),
                corpus_dir: None,
                stats_path: None,
                panics_path: None,
            });
        };
        std::fs::create_dir_all(dir.join("corpus"))?;
        let current = File::options().create(true).write(true).truncate(true).open(dir.join("current"))?;
        Ok(State {
            current: Some(current),
            buffer: Vec::new(),
            corpus_dir: Some(dir.join("corpus")),
            stats_path: Some(dir.join("stats")),
            panics_path: Some(dir.join("panics")),
        })
    }

    /// The panics earlier workers of the campaign reported (one key per line).
    fn panics_seen(&self) -> HashSet<String> {
        let text = self.panics_path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }

    /// Records a panic reported, for the workers after this one.
    fn panic_reported(&self, key: &str) {
        if let Some(path) = &self.panics_path {
            let line = format!("{}\n", key.replace('\n', " "));
            let _ = File::options().create(true).append(true).open(path).and_then(|mut f| f.write_all(line.as_bytes()));
        }
    }

    /// Writes the input about to run (one write: its length, then the bytes).
    fn record_current(&mut self, input: &[u8]) {
        if let Some(file) = &self.current {
            self.buffer.clear();
            self.buffer.extend((input.len() as u64).to_le_bytes());
            self.buffer.extend(input);
            let _ = file.write_all_at(&self.buffer, 0);
        }
    }

    fn keep_in_corpus(&self, input: &[u8]) {
        if let Some(dir) = &self.corpus_dir {
            let _ = std::fs::write(dir.join(format!("{}.bin", hash_hex(input))), input);
        }
    }

    fn write_stats(&self, stats: &Stats) {
        if let Some(path) = &self.stats_path {
            let _ = std::fs::write(path, stats.to_line());
        }
    }
}

/// Reads the input a worker was running from its `current` file.
pub fn read_current(state: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(state.join("current")).ok()?;
    let (len, rest) = bytes.split_first_chunk::<8>()?;
    rest.get(..u64::from_le_bytes(*len) as usize).map(<[u8]>::to_vec)
}

/// The fuzzing loop of a campaign.
struct Fuzzer<'a> {
    campaign: &'a Campaign,
    state: State,
    corpus: Corpus,
    mutator: Mutator,
    stats: Stats,
    panics_seen: HashSet<String>,
}

impl Fuzzer<'_> {
    /// Runs one input: records it, runs it, keeps it when its outcome is new (then returns
    /// true), reports a panic.
    fn run(&mut self, input: &[u8]) -> bool {
        self.state.record_current(input);
        let Execution { verdict, .. } = execute(self.campaign.target, input);
        self.stats.execs += 1;
        match verdict {
            Verdict::Done(outcome) => {
                let new = self.corpus.add(input, &outcome, self.mutator.rng());
                if new {
                    self.state.keep_in_corpus(input);
                }
                new
            }
            Verdict::Panic(report) => {
                self.panicked(input, &report);
                false
            }
        }
    }

    /// Whether `input` panics at `location`.
    fn panics_at(&mut self, input: &[u8], location: &str) -> bool {
        self.state.record_current(input);
        matches!(execute(self.campaign.target, input).verdict, Verdict::Panic(p) if p.location == location)
    }

    /// A smaller input panicking at the same place: ranges of halving sizes removed while it
    /// still does, within [`MINIMIZE_EXECS`] runs.
    fn minimize(&mut self, input: &[u8], location: &str) -> Vec<u8> {
        let (mut best, mut budget) = (input.to_vec(), MINIMIZE_EXECS);
        let mut chunk = best.len().div_ceil(2);
        while chunk > 0 && budget > 0 {
            let mut at = 0;
            while at < best.len() && budget > 0 {
                budget -= 1;
                let mut candidate = best.clone();
                candidate.drain(at..(at + chunk).min(best.len()));
                if self.panics_at(&candidate, location) {
                    best = candidate;
                } else {
                    at += chunk;
                }
            }
            chunk /= 2;
        }
        best
    }

    /// The next input: a mutation of one corpus input (spliced with another), or a random one.
    fn next_input(&mut self) -> Vec<u8> {
        if self.corpus.is_empty() || self.mutator.rng().below(RANDOM_ONE_IN) == 0 {
            return self.mutator.random_input();
        }
        let (a, b) = (self.corpus.pick_index(self.mutator.rng()), self.corpus.pick_index(self.mutator.rng()));
        self.mutator.mutate(self.corpus.get(a), self.corpus.get(b))
    }

    fn update_stats(&mut self) {
        self.stats.outcomes = self.corpus.outcomes();
        self.stats.corpus = self.corpus.len();
        self.state.write_stats(&self.stats);
    }

    /// Saves (minimized) and reports a panic, once per place and message.
    fn panicked(&mut self, input: &[u8], report: &PanicReport) {
        let key = format!("{} {}", report.location, crate::corpus::signature(&report.message));
        if !self.panics_seen.insert(key.clone()) {
            return;
        }
        self.state.panic_reported(&key);
        let input = &self.minimize(input, &report.location);
        self.stats.failures += 1;
        let name = self.campaign.target.name;
        let saved = save_failure(&self.campaign.regressions, name, input)
            .map_or_else(|e| format!("(not saved: {e})"), |p| p.display().to_string());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "FAILURE {name}: panic at {}: {}", report.location, report.message);
        let _ = writeln!(out, "  input: {saved} ({} bytes)", input.len());
        let _ = writeln!(out, "{}", short_backtrace(&report.backtrace));
        let _ = out.flush();
        drop(out);
        self.update_stats();
    }
}

/// Runs a campaign: the seeds and the corpus saved by earlier workers of the campaign, then
/// mutations of the corpus (and random inputs) until `duration` has passed. (Saved failures are
/// not replayed here: one that aborts would end every worker; the regression test runs them.)
pub fn run(campaign: &Campaign) -> std::io::Result<Stats> {
    let target = campaign.target;
    let start = Instant::now();
    let state = State::open(campaign.state.as_deref())?;
    let mut fuzzer = Fuzzer {
        campaign,
        panics_seen: state.panics_seen(),
        state,
        corpus: Corpus::new(CORPUS_CAPACITY, CORPUS_BYTES),
        mutator: Mutator::new(campaign.seed, campaign.max_len, target.tokens, target.json).two_files(target.two_files),
        stats: Stats::default(),
    };
    let mut starting = seeds(target.name);
    if let Some(state) = &campaign.state {
        starting.extend(files_in(&state.join("corpus")).into_iter().map(|(_, b)| b));
    }
    for input in starting {
        if !fuzzer.run(&input) {
            fuzzer.corpus.keep(input, fuzzer.mutator.rng());
        }
    }
    let mut last_stats = Instant::now();
    while start.elapsed() < campaign.duration {
        let input = fuzzer.next_input();
        fuzzer.run(&input);
        if last_stats.elapsed() > STATS_EVERY {
            fuzzer.update_stats();
            last_stats = Instant::now();
        }
    }
    fuzzer.update_stats();
    Ok(fuzzer.stats)
}
